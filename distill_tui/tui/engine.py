"""Moved: the inference session is `distill_tui.inference.session`.

Only `demo_paths` is left here, for `commands/open.py`; delete this file once that imports it from
`distill_tui.inference.session`.
"""

from ..inference.session import demo_paths

__all__ = ["demo_paths"]
