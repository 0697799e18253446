"""File formats: the `.distill` model file."""
