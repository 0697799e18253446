"""The terminal editor: a Textual app over the code grids (imported only by `cli.py` and `commands/open.py`)."""
