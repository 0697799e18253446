"""Code grids as documents, and the edits made to them."""
