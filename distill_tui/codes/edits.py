"""Edits of a `CodeGrid` that rewrite cells: keystrokes, fills, paste, randomize, "DNA mix", blend, swap.

Every edit validates the codes it writes against the grid's codebook sizes, and edits that read another
grid refuse one made by another model unless a mapping through embeddings is given. Edits that need a
model (blend, regenerate, a mapping) receive it through the protocols in `edit_base` and `clipboard`:
this package never imports torch or the model (docs/architecture.md, decision 16). Edits that insert or
delete columns live in `columns.py`; both kinds are importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import BadInputError
from ..words import numbered
from .clipboard import Clipboard, CodeMapping, require_same_model
from .columns import ColumnEdit, Continue, DeleteColumns, DuplicateColumns, InsertColumns, RepeatColumns
from .edit_base import BlockEdit, Edit, EditResult, LatentBlender, PriorLike, check_codes
from .grid import CodeGrid
from .selection import Selection

__all__ = [
    "Blend", "BlockEdit", "ColumnEdit", "Continue", "DeleteColumns", "DuplicateColumns", "Edit", "EditResult", "Fill",
    "FillPattern", "InsertColumns", "Nudge", "Paste", "PriorLike", "Randomize", "Regenerate", "RepeatColumns", "Reverse",
    "SetCell", "SwapRegion", "TakeLevels", "check_codes",
]


# --------------------------------------------------------------------------------------------------
# Edits that rewrite a rectangle of cells


@dataclass
class SetCell(BlockEdit):
    """Overwrite one cell (a keystroke)."""

    level: int = 0
    position: int = 0
    code: int = 0

    def target(self, doc: CodeGrid) -> Selection:
        return Selection.cell(self.level, self.position)

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        return np.full(sel.shape, self.code, dtype=np.int64), None


@dataclass
class Fill(BlockEdit):
    """Fill a selection with one code (it must exist in every selected level)."""

    selection: Selection = field(default_factory=Selection)
    code: int = 0

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        return np.full(sel.shape, self.code, dtype=np.int64), None


@dataclass
class Nudge(BlockEdit):
    """Move each code `step` places along its level's perceptual order (up = a little brighter/louder).

    `order[q]` lists level q's codes from darkest/softest to brightest/loudest (`PerceptualData.order`).
    """

    selection: Selection = field(default_factory=Selection)
    step: int = 1
    order: Sequence[np.ndarray] = ()

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        if len(self.order) != doc.levels:
            raise BadInputError(f"a perceptual order for {len(self.order)} levels does not fit a grid of {doc.levels}")
        old = doc.codes[sel.slices]
        new = np.empty_like(old)  # (L, P)
        for i, q in enumerate(range(sel.level_start, sel.level_stop)):  # type: ignore[arg-type]
            order = np.asarray(self.order[q], dtype=np.int64)  # (K,)
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            new[i] = order[np.clip(rank[old[i]] + self.step, 0, len(order) - 1)]
        return new, None


@dataclass
class Reverse(BlockEdit):
    """Reverse a selection in time."""

    selection: Selection = field(default_factory=Selection)

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        return doc.codes[sel.slices][:, ::-1].copy(), None


@dataclass
class FillPattern(BlockEdit):
    """Tile a pattern over a selection: `pattern` (rows, n) with -1 for "leave as is".

    One row applies to every selected level; otherwise row i goes to the i-th selected level. The
    pattern repeats along time from the selection's first position (see `patterns.py`).
    """

    selection: Selection = field(default_factory=Selection)
    pattern: np.ndarray = field(default_factory=lambda: np.zeros((1, 1), dtype=np.int64))

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
        pat = np.atleast_2d(np.asarray(self.pattern, dtype=np.int64))  # (rows, n)
        n_levels, n_positions = sel.shape
        if pat.shape[1] == 0:
            raise BadInputError("the pattern is empty")
        if pat.shape[0] == 1:
            pat = np.repeat(pat, n_levels, axis=0)
        elif pat.shape[0] < n_levels:
            raise BadInputError(f"a pattern of {pat.shape[0]} rows does not cover {n_levels} selected levels")
        reps = -(-n_positions // pat.shape[1])
        new = np.tile(pat[:n_levels], (1, reps))[:, :n_positions]  # (L, P)
        return new, new >= 0


@dataclass
class Paste(BlockEdit):
    """Paste a clipboard at `position`, into the levels it was copied from.

    mode "overwrite" writes every clipboard cell; an empty cell (-1) then takes its level's
    `background` code, and without one the paste is refused. mode "mix" writes only the clipboard's
    non-empty cells. A clipboard from another model is refused: map it first (`Clipboard.mapped`).
    """

    clip: Clipboard | None = None
    position: int = 0
    mode: Literal["overwrite", "mix"] = "overwrite"
    background: Sequence[int] | None = None

    def target(self, doc: CodeGrid) -> Selection:
        assert self.clip is not None
        clip = self.clip
        clip.check_target(doc)
        return Selection(clip.level_start, clip.level_start + clip.levels, self.position, self.position + clip.positions)

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray | None]:
        assert self.clip is not None
        off = sel.pos_start - self.position  # > 0 when pasted partly before position 0
        vals = self.clip.values[: sel.shape[0], off : off + sel.shape[1]].copy()  # (L, P)
        holes = vals < 0
        if self.mode == "mix":
            return vals, ~holes
        if self.mode != "overwrite":
            raise BadInputError(f"paste mode {self.mode!r} is not overwrite or mix")
        if holes.any():
            if self.background is None:
                raise BadInputError("the clipboard has empty cells: paste with mode 'mix', or give background codes")
            bg = np.asarray(self.background, dtype=np.int64)[sel.level_start : sel.level_stop, None]  # (L, 1)
            vals = np.where(holes, bg, vals)
        return vals, None


@dataclass
class Randomize(BlockEdit):
    """Replace a selection with random codes.

    mode "uniform": any code of the level; "usage": drawn from the level's usage on the training set
    (`usage[q]`, counts); "nearest": one of the k codes nearest to the current one in embedding space
    (`neighbours[q]` (K, k), from `model.latent.nearest_codes`), for small variations. `seed` None draws fresh
    entropy; the drawn codes are kept, so a redo replays them.
    """

    selection: Selection = field(default_factory=Selection)
    mode: Literal["uniform", "usage", "nearest"] = "uniform"
    seed: int | None = None
    usage: Sequence[np.ndarray] | None = None
    neighbours: Sequence[np.ndarray] | None = None

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, None]:
        rng = np.random.default_rng(self.seed)
        old = doc.codes[sel.slices]
        new = np.empty_like(old)  # (L, P)
        for i, q in enumerate(range(sel.level_start, sel.level_stop)):  # type: ignore[arg-type]
            k = doc.codebook_sizes[q]
            if self.mode == "uniform":
                new[i] = rng.integers(0, k, size=old.shape[1])
            elif self.mode == "usage":
                if self.usage is None or len(self.usage) != doc.levels:
                    raise BadInputError("randomizing by usage needs the model's usage counts for every level")
                counts = np.asarray(self.usage[q], dtype=np.float64)[:k]
                p = counts / counts.sum() if counts.sum() > 0 else None
                new[i] = rng.choice(k, size=old.shape[1], p=p)
            elif self.mode == "nearest":
                if self.neighbours is None or len(self.neighbours) != doc.levels:
                    raise BadInputError("randomizing to nearest codes needs the model's embeddings for every level")
                nb = np.asarray(self.neighbours[q], dtype=np.int64)  # (K, k)
                new[i] = nb[old[i], rng.integers(0, nb.shape[1], size=old.shape[1])]
            else:
                raise BadInputError(f"randomize mode {self.mode!r} is not uniform, usage or nearest")
        return new, None



@dataclass
class TakeLevels(BlockEdit):
    """"DNA mix": replace whole levels with the same levels of `source` (structure from A, texture from B).

    align "stretch" maps source positions onto this grid's length (nearest position); "crop" takes
    source positions one for one, leaving this grid's tail unchanged where the source is shorter.
    A source from another model is refused unless `mapping` (source model -> this model) is given.
    """

    source: CodeGrid | None = None
    levels: Sequence[int] = (0,)
    align: Literal["stretch", "crop"] = "stretch"
    mapping: CodeMapping | None = None

    def target(self, doc: CodeGrid) -> Selection:
        if not self.levels:
            raise BadInputError("no levels to take")
        bad = [q + 1 for q in self.levels if not 0 <= q < doc.levels]
        if bad:
            raise BadInputError(f"{numbered('level', bad)} {'does' if len(bad) == 1 else 'do'} not exist (this grid has levels 1..{doc.levels})")
        return Selection(min(self.levels), max(self.levels) + 1, 0, None)

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
        assert self.source is not None
        src = self.source.codes  # (Qs, Ps)
        if self.mapping is not None:
            self.mapping.check(self.source, doc)
            src = self.mapping.map_grid(src)  # (Q, Ps) in this model's codes
        else:
            require_same_model(self.source, doc, "take levels")
        n = doc.positions
        ps = src.shape[1]
        if ps == 0:
            raise BadInputError("the source grid has no positions")
        new = doc.codes[sel.slices].copy()  # (L, P)
        mask = np.zeros(new.shape, dtype=bool)
        if self.align == "stretch":
            idx = np.minimum(((np.arange(n) + 0.5) * ps / n).astype(np.int64), ps - 1)  # (P,)
            cols = slice(0, n)
        elif self.align == "crop":
            idx = np.arange(min(n, ps))
            cols = slice(0, len(idx))
        else:
            raise BadInputError(f"alignment {self.align!r} is not stretch or crop")
        for q in self.levels:
            row = q - sel.level_start
            new[row, cols] = src[q, idx]
            mask[row, cols] = True
        return new, mask


@dataclass
class Blend(BlockEdit):
    """Move a selection of this grid toward `other` in latent space by `amount` (0..1), then re-quantize.

    The latent of each selected column is the sum of its levels' embeddings (all levels); the blend
    is re-quantized with the model's residual quantizer and the selected levels are written. Amount
    0 keeps this grid's codes and 1 takes `other`'s; columns past `other`'s end are left alone.
    `quantizer` is anything with `blend_codes` (`LatentBlender`): the model's `Quantizer`
    (`codec.model.quantizer`), which blends in its latent space; both grids must be of its model.
    """

    selection: Selection = field(default_factory=Selection)
    other: CodeGrid | None = None
    amount: float = 0.5
    quantizer: LatentBlender | None = None
    other_position: int | None = None  # where in `other` the selection starts (default: same position)

    def __post_init__(self) -> None:  # refused when made, before any work is started for it
        if not 0.0 <= self.amount <= 1.0:  # NaN fails this too
            raise BadInputError(f"the blend amount is a number from 0 (keep A) to 1 (take B), not {self.amount:g}")

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
        assert self.other is not None and self.quantizer is not None
        require_same_model(self.other, doc, "blend")
        start_b = sel.pos_start if self.other_position is None else max(self.other_position, 0)
        n = max(0, min(sel.shape[1], self.other.positions - start_b))
        new = doc.codes[sel.slices].copy()  # (L, P)
        mask = np.zeros(new.shape, dtype=bool)
        if n == 0:
            return new, mask
        a = doc.codes[:, sel.pos_start : sel.pos_start + n]  # (Q, n)
        b = self.other.codes[:, start_b : start_b + n]  # (Q, n)
        rows = slice(sel.level_start, sel.level_stop)
        if self.amount <= 0.0:
            blended = a
        elif self.amount >= 1.0:
            blended = b
        else:
            blended = np.asarray(self.quantizer.blend_codes(a, b, self.amount), dtype=np.int64)
        new[:, :n] = blended[rows]
        mask[:, :n] = True
        return new, mask



@dataclass
class Regenerate(BlockEdit):
    """Resample a selection with the prior (temperature, top-k, top-p and seed live in `settings`).

    `free` (L, P) bool over the selection: only its True cells are drawn anew, the others kept and heard by the
    prior as context (every n-th column, every other beat: `codes/masks.py`); None redraws the whole selection.
    """

    selection: Selection = field(default_factory=Selection)
    prior: PriorLike | None = None
    settings: Any = None
    candidates: int = 4
    free: np.ndarray | None = None

    def target(self, doc: CodeGrid) -> Selection:
        return self.selection

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray | None]:
        assert self.prior is not None
        if self.free is not None:
            if self.free.shape != sel.shape:
                raise BadInputError(f"the cells to redraw ({self.free.shape}) do not match the selection ({sel.shape})")
            free = np.zeros(doc.codes.shape, dtype=bool)  # (Q, P)
            free[sel.slices] = self.free
            out = np.asarray(self.prior.regenerate_masked(doc.codes.copy(), free, self.settings,
                                                          candidates=self.candidates))
            return out[sel.slices], self.free.copy()
        levels = list(range(sel.level_start, sel.level_stop))  # type: ignore[arg-type]
        out = np.asarray(self.prior.regenerate_region(
            doc.codes.copy(), sel.pos_start, sel.pos_stop, self.settings, levels=levels, candidates=self.candidates,
        ))
        if out.shape == doc.codes.shape:  # the whole grid came back
            return out[sel.slices], None
        if out.shape == (doc.levels, sel.shape[1]):  # every level of the region
            return out[sel.level_start : sel.level_stop], None
        if out.shape == sel.shape:
            return out, None
        raise BadInputError(f"the prior returned codes of shape {out.shape} for a region of {sel.shape}")


# --------------------------------------------------------------------------------------------------
# Edits that touch two grids


@dataclass
class SwapRegion(Edit):
    """Exchange a selection of this grid with the same levels of `other` (A and B side by side).

    `other_position` is where the region starts in `other` (default: the same position); the region
    is cut to what fits both grids. Grids of different models are refused unless both mappings are
    given (`to_other`: this model -> other's, `from_other`: the reverse). Record it in a history
    shared by both grids (`EditSession`), so undo order stays right for both.
    """

    selection: Selection = field(default_factory=Selection)
    other: CodeGrid | None = None
    other_position: int | None = None
    to_other: CodeMapping | None = None
    from_other: CodeMapping | None = None

    _a: Selection | None = field(init=False, default=None, repr=False)
    _b: Selection | None = field(init=False, default=None, repr=False)
    _new_a: np.ndarray | None = field(init=False, default=None, repr=False)
    _new_b: np.ndarray | None = field(init=False, default=None, repr=False)
    _old_a: np.ndarray | None = field(init=False, default=None, repr=False)
    _old_b: np.ndarray | None = field(init=False, default=None, repr=False)

    def touched(self, doc: CodeGrid) -> tuple[CodeGrid, ...]:
        assert self.other is not None
        return (doc,) if self.other is doc else (doc, self.other)

    def _plan(self, doc: CodeGrid) -> None:
        other = self.other
        assert other is not None
        mapped = self.to_other is not None and self.from_other is not None
        if mapped:
            self.to_other.check(doc, other)  # type: ignore[union-attr]
            self.from_other.check(other, doc)  # type: ignore[union-attr]
        else:
            require_same_model(other, doc, "swap")
        a = self.selection.clip(doc.levels, doc.positions)
        start_b = a.pos_start if self.other_position is None else self.other_position
        b = a.moved_to(a.level_start, start_b).clip(other.levels, other.positions)
        n_levels = min(a.shape[0], b.shape[0])
        n = min(a.shape[1], b.shape[1], max(0, other.positions - max(start_b, 0)))
        a = Selection(a.level_start, a.level_start + n_levels, a.pos_start, a.pos_start + n)
        b = Selection(b.level_start, b.level_start + n_levels, b.pos_start, b.pos_start + n)
        if a.pos_stop is not None and b.pos_stop is not None and other is doc and not (
            a.pos_stop <= b.pos_start or b.pos_stop <= a.pos_start
        ):
            raise BadInputError("cannot swap two overlapping regions of the same grid")
        va, vb = doc.codes[a.slices].copy(), other.codes[b.slices].copy()  # (L, n) each
        if mapped and not a.empty:
            assert self.to_other is not None and self.from_other is not None
            vb, va = self.to_other.map_levels(va, a.level_start), self.from_other.map_levels(vb, a.level_start)
        else:
            va, vb = vb, va
        check_codes(doc, a, va)
        check_codes(other, b, vb)
        self._a, self._b, self._new_a, self._new_b = a, b, va, vb

    def do(self, doc: CodeGrid) -> EditResult:
        if self._new_a is None:
            self._plan(doc)
        assert self.other is not None and self._a is not None and self._b is not None
        self._old_a, self._old_b = doc.codes[self._a.slices].copy(), self.other.codes[self._b.slices].copy()
        doc.codes[self._a.slices] = self._new_a
        self.other.codes[self._b.slices] = self._new_b
        return EditResult(self._a, other=self.other, other_changed=self._b)

    def undo(self, doc: CodeGrid) -> EditResult:
        assert self.other is not None and self._a is not None and self._b is not None
        self.other.codes[self._b.slices] = self._old_b
        doc.codes[self._a.slices] = self._old_a
        return EditResult(self._a, other=self.other, other_changed=self._b)
