"""Dataset scanning, the preprocessing cache, crops and the train/validation split."""
