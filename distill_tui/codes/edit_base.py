"""What every edit shares: `Edit` (do / undo), `EditResult`, `BlockEdit`, the code check, and the
protocols through which model-driven edits reach a model without this package importing one.

An edit is a small dataclass holding its parameters (modelled on Textual's `document/_edit.py`): `do`
computes the new values once (random and model-driven edits are therefore replayed exactly by a redo),
remembers the old values of the touched cells, and writes; `undo` writes the old values back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..errors import BadInputError
from .grid import CodeGrid
from .selection import Selection


@dataclass
class EditResult:
    """What an edit (or its undo) changed in the grid it was applied to."""

    changed: Selection  # clipped cells whose codes may have changed (redraw these, re-decode around them)
    resized: bool = False  # columns were inserted or deleted: everything from `changed.pos_start` on moved
    other: CodeGrid | None = None  # a second grid this edit wrote (a swap), or None
    other_changed: Selection | None = None


class Edit:
    """Base class. Subclasses are dataclasses; each applied edit is one undo step."""


    def do(self, doc: CodeGrid) -> EditResult:
        raise NotImplementedError

    def undo(self, doc: CodeGrid) -> EditResult:
        raise NotImplementedError

    def touched(self, doc: CodeGrid) -> tuple[CodeGrid, ...]:
        """Every grid this edit writes when applied to `doc`."""
        return (doc,)


class LatentBlender(Protocol):
    """What `Blend` needs from a model: the model's `Quantizer` (`distill_tui.model.quantizer`) is one."""

    def blend_codes(self, a: np.ndarray, b: np.ndarray, amount: float) -> np.ndarray:
        """codes a, b (Q, n) -> codes (Q, n) of the latent (1 - amount) * z_a + amount * z_b."""
        ...


class PriorLike(Protocol):
    """What `Regenerate` and `Continue` need from the prior (`inference.generate.Prior`)."""

    def regenerate_region(
        self, codes: np.ndarray, start: int, end: int, settings: Any, *, levels: list[int] | None = None, candidates: int = 4
    ) -> np.ndarray: ...

    def regenerate_masked(self, codes: np.ndarray, free: np.ndarray, settings: Any, *, candidates: int = 4) -> np.ndarray: ...

    def continue_codes(self, codes: np.ndarray, prompt_positions: int, total_positions: int, settings: Any) -> np.ndarray: ...


def check_codes(doc: CodeGrid, sel: Selection, new: np.ndarray, mask: np.ndarray | None = None) -> None:
    """Refuse values outside each level's codebook (only where `mask` is True)."""
    sizes = np.asarray(doc.codebook_sizes, dtype=np.int64)[sel.level_start : sel.level_stop, None]  # (L, 1)
    bad = (new < 0) | (new >= sizes)
    if mask is not None:
        bad &= mask
    if bad.any():
        li, pi = np.argwhere(bad)[0]
        level = sel.level_start + int(li)
        raise BadInputError(
            f"code {int(new[li, pi])} does not exist at level {level + 1} (its codes are 0..{doc.codebook_sizes[level] - 1})"
        )


@dataclass
class BlockEdit(Edit):
    """Writes a block of new values (where `mask`) into a clipped selection; stores the old block.

    Subclasses say where (`target`) and what (`compute`); cost is O(selection).
    """

    _sel: Selection | None = field(init=False, default=None, repr=False)
    _new: np.ndarray | None = field(init=False, default=None, repr=False)  # (L, P) computed on the first do
    _mask: np.ndarray | None = field(init=False, default=None, repr=False)  # (L, P) bool, or None = all
    _old: np.ndarray | None = field(init=False, default=None, repr=False)  # (L, P) values before the do

    def target(self, doc: CodeGrid) -> Selection:
        raise NotImplementedError

    def compute(self, doc: CodeGrid, sel: Selection) -> tuple[np.ndarray, np.ndarray | None]:
        """New values (L, P) for the clipped selection, and an optional write mask."""
        raise NotImplementedError

    def do(self, doc: CodeGrid) -> EditResult:
        if self._new is None:
            sel = self.target(doc).clip(doc.levels, doc.positions)
            if sel.empty:
                new, mask = np.zeros(sel.shape, dtype=np.int64), None
            else:
                new, mask = self.compute(doc, sel)
                new = np.asarray(new, dtype=np.int64)
                if new.shape != sel.shape:
                    raise BadInputError(f"internal: block of shape {new.shape} for a selection of {sel.shape}")
                check_codes(doc, sel, new, mask)
            self._sel, self._new, self._mask = sel, new, mask
        sel = self._sel
        assert sel is not None
        block = doc.codes[sel.slices]  # a view: writing it writes the grid
        self._old = block.copy()
        if self._mask is None:
            block[...] = self._new
        else:
            np.copyto(block, self._new, where=self._mask)
        return EditResult(sel)

    def undo(self, doc: CodeGrid) -> EditResult:
        assert self._sel is not None and self._old is not None, "undo before do"
        doc.codes[self._sel.slices] = self._old
        return EditResult(self._sel)
