"""File formats: the `.distill` model file (model_file.py) and the typed document inside it (document.py)."""
