"""Patterns to fill a selection with (motifs, alternations, ramps, Euclidean rhythms) and a store of named templates.

Every pattern is an int64 array (rows, n) with -1 (`EMPTY`) for "leave this cell as it is"; apply
one with `edits.FillPattern`, which tiles it over the selection. Templates are clipboards saved as
JSON under `templates_dir()/<model fingerprint>/<name>.json` (`$DISTILL_TEMPLATES`, else
`locations.data_dir()/templates`: `$XDG_DATA_HOME/distill-tui/templates` on Linux), so a template is
offered only for grids of the model that made it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import BadInputError, OutputError
from ..fileio import atomic_write_json, reason_of
from ..locations import data_dir
from .clipboard import EMPTY, Clipboard
from .grid import CodeGrid


def motif(codes: Sequence[int] | np.ndarray, every: int) -> np.ndarray:
    """A motif (m,) or (rows, m) that starts every `every` positions; the gap between repeats is left alone."""
    m = np.atleast_2d(np.asarray(codes, dtype=np.int64))  # (rows, m)
    if m.shape[1] == 0:
        raise BadInputError("the motif is empty")
    every = max(int(every), m.shape[1])
    out = np.full((m.shape[0], every), EMPTY, dtype=np.int64)  # (rows, every): one period
    out[:, : m.shape[1]] = m
    return out


def alternate(a: int, b: int, period: int = 1) -> np.ndarray:
    """a for `period` positions, then b for `period` positions: (1, 2 * period)."""
    period = max(int(period), 1)
    return np.array([[a] * period + [b] * period], dtype=np.int64)


def ramp(order: Sequence[int] | np.ndarray, start: int, end: int, length: int) -> np.ndarray:
    """Walk a level's perceptual order from code `start` to code `end` over `length` positions: (1, length)."""
    order = np.asarray(order, dtype=np.int64)  # (K,) darkest/softest first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    if not (0 <= start < len(order) and 0 <= end < len(order)):
        raise BadInputError(f"ramp codes {start}, {end} must be between 0 and {len(order) - 1}")
    length = max(int(length), 1)
    ranks = np.rint(np.linspace(rank[start], rank[end], length)).astype(np.int64)  # (length,)
    return order[ranks][None]


def euclidean_rhythm(hits: int, steps: int, rotation: int = 0) -> np.ndarray:
    """`hits` onsets spread as evenly as possible over `steps` (Bjorklund's patterns), (steps,) bool.

    E(3, 8) = x..x..x. ; `rotation` shifts the pattern right.
    """
    if steps < 1 or not 0 <= hits <= steps:
        raise BadInputError(f"a Euclidean rhythm needs 0 <= hits <= steps and steps >= 1 (got {hits}, {steps})")
    onsets = (np.arange(steps) * hits) % steps < hits  # (steps,)
    return np.roll(onsets, rotation)


def euclid(code: int, hits: int, steps: int, background: int | None = None, rotation: int = 0) -> np.ndarray:
    """`code` on a Euclidean rhythm, `background` elsewhere (None: leave the other cells alone): (1, steps)."""
    onsets = euclidean_rhythm(hits, steps, rotation)
    return np.where(onsets, code, EMPTY if background is None else background).astype(np.int64)[None]


_NAME = re.compile(r"^[\w][\w .+-]{0,63}$")


def templates_dir() -> Path:
    """`$DISTILL_TEMPLATES`, else `locations.data_dir()/templates` (default ~/.local/share/distill-tui/templates)."""
    if os.environ.get("DISTILL_TEMPLATES"):
        return Path(os.environ["DISTILL_TEMPLATES"])
    return data_dir() / "templates"


class TemplateStore:
    """Named selections saved for reuse in any grid of the same model."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else templates_dir()

    def _path(self, fingerprint: str, name: str) -> Path:
        if not _NAME.match(name) or name.strip() != name:
            raise BadInputError(f"template name {name!r}: use up to 64 letters, digits, spaces and . + - _")
        if not re.fullmatch(r"[0-9a-fA-F]{1,64}", fingerprint):
            raise BadInputError(f"model fingerprint {fingerprint!r} is not a hex string")
        return self.root / fingerprint / f"{name}.json"

    def has(self, fingerprint: str, name: str) -> bool:
        """A template `name` of this model is already saved (BadInputError for a name that cannot be one)."""
        return self._path(fingerprint, name).exists()

    def save(self, name: str, clip: Clipboard) -> Path:
        """Write atomically; an existing template of that name is replaced. `OutputError` says why it could not."""
        path = self._path(clip.model_fingerprint, name)
        doc = {"format": "distill-template", "version": 1, **clip.to_json(), "name": name}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot save the template ({reason_of(exc)})", path) from exc
        return atomic_write_json(path, doc, "template")

    def load(self, name: str, grid: CodeGrid) -> Clipboard:
        """The template `name` of the grid's model; another model's template is never offered."""
        path = self._path(grid.model_fingerprint, name)
        if not path.exists():
            raise BadInputError(f"no template {name!r} for model {grid.model_fingerprint}", path)
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BadInputError(f"cannot read the template ({exc})", path) from exc
        if not isinstance(doc, dict) or doc.get("format") != "distill-template" or doc.get("version") != 1:
            raise BadInputError("not a Distill template (format or version)", path)
        clip = Clipboard.from_json(doc)
        clip.check_target(grid)
        return clip

    def names(self, fingerprint: str) -> list[str]:
        folder = self.root / fingerprint
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []

    def delete(self, name: str, fingerprint: str) -> None:
        self._path(fingerprint, name).unlink(missing_ok=True)
