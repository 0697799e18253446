"""Edits that insert or delete columns of a `CodeGrid`: insert, delete, repeat, duplicate, continue with the prior.

They rebuild the (levels, positions) array (O(grid), not O(selection)) and keep what they removed for
undo. The source's sample count (the decoded length) follows the change in positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import BadInputError
from .edit_base import Edit, EditResult, PriorLike, check_codes
from .grid import CodeGrid
from .selection import Selection


@dataclass
class ColumnEdit(Edit):
    """Replace columns [at, at + removed) with `inserted` columns; keeps the removed ones for undo.

    The source's sample count (the decoded length) follows the change in positions.
    """

    _at: int = field(init=False, default=0, repr=False)
    _inserted: np.ndarray | None = field(init=False, default=None, repr=False)  # (Q, n_in)
    _removed: np.ndarray | None = field(init=False, default=None, repr=False)  # (Q, n_out)
    _old_samples: Any = field(init=False, default=None, repr=False)

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        """(at, columns removed, inserted (Q, n)) on the first do."""
        raise NotImplementedError

    def do(self, doc: CodeGrid) -> EditResult:
        if self._inserted is None:
            at, n_out, inserted = self.plan(doc)
            inserted = np.asarray(inserted, dtype=np.int64).reshape(doc.levels, -1)
            if n_out >= doc.positions and inserted.shape[1] == 0:
                raise BadInputError("cannot delete every column of a grid")
            check_codes(doc, Selection(0, doc.levels, 0, inserted.shape[1]), inserted)
            self._at, self._inserted = at, inserted
            self._removed = doc.codes[:, at : at + n_out].copy()
        assert self._removed is not None
        at, n_out = self._at, self._removed.shape[1]
        doc.codes = np.concatenate([doc.codes[:, :at], self._inserted, doc.codes[:, at + n_out :]], axis=1)  # (Q, P')
        self._old_samples = doc.source.get("samples")
        self._fix_samples(doc, self._inserted.shape[1] - n_out)
        return EditResult(Selection(0, doc.levels, at, doc.positions), resized=True)

    def undo(self, doc: CodeGrid) -> EditResult:
        assert self._inserted is not None and self._removed is not None
        at, n_in = self._at, self._inserted.shape[1]
        doc.codes = np.concatenate([doc.codes[:, :at], self._removed, doc.codes[:, at + n_in :]], axis=1)  # (Q, P)
        if self._old_samples is None:
            doc.source.pop("samples", None)
        else:
            doc.source["samples"] = self._old_samples
        return EditResult(Selection(0, doc.levels, at, doc.positions), resized=True)

    @staticmethod
    def _fix_samples(doc: CodeGrid, delta_positions: int) -> None:
        samples = doc.source.get("samples")
        if samples is None:
            return
        per_position = doc.stride * doc.hop_length
        longest = max(doc.positions * doc.stride - 1, 0) * doc.hop_length  # what the decoder can produce
        doc.source["samples"] = int(min(max(int(samples) + delta_positions * per_position, 0), longest))


@dataclass
class InsertColumns(ColumnEdit):
    """Insert columns before position `at` (default values: copies of the column before `at`)."""

    at: int = 0
    values: np.ndarray | None = None  # (Q, n)
    count: int = 1

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        at = min(max(self.at, 0), doc.positions)
        if self.values is not None:
            return at, 0, np.asarray(self.values)
        src = doc.codes[:, max(at - 1, 0) : max(at - 1, 0) + 1]  # (Q, 1)
        return at, 0, np.repeat(src, max(self.count, 0), axis=1)


@dataclass
class DeleteColumns(ColumnEdit):
    """Delete columns [start, stop) (clipped)."""

    start: int = 0
    stop: int = 1

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        sel = Selection.columns(self.start, self.stop).clip(doc.levels, doc.positions)
        return sel.pos_start, sel.shape[1], np.zeros((doc.levels, 0), dtype=np.int64)


@dataclass
class RepeatColumns(ColumnEdit):
    """Play columns [start, stop) `times` times in a row (a loop); `times` 2 duplicates them."""

    start: int = 0
    stop: int = 1
    times: int = 2

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        if self.times < 1:
            raise BadInputError(f"repeat count {self.times} must be at least 1")
        sel = Selection.columns(self.start, self.stop).clip(doc.levels, doc.positions)
        block = doc.codes[sel.slices]  # (Q, n)
        return sel.pos_stop or 0, 0, np.tile(block, (1, self.times - 1))


def DuplicateColumns(start: int, stop: int) -> RepeatColumns:  # noqa: N802 - reads as an edit class
    """Insert a copy of columns [start, stop) right after them."""
    return RepeatColumns(start=start, stop=stop, times=2)


@dataclass
class Continue(ColumnEdit):
    """Grow the grid to `total_positions` with the prior, conditioned on its last `prompt_positions`
    columns (default: all of them; the prior slides its own context window)."""

    total_positions: int = 0
    prior: PriorLike | None = None
    settings: Any = None
    prompt_positions: int | None = None

    def plan(self, doc: CodeGrid) -> tuple[int, int, np.ndarray]:
        assert self.prior is not None
        p = doc.positions
        if self.total_positions <= p:
            raise BadInputError(f"the grid already has {p} positions (asked to continue to {self.total_positions})")
        prompt = p if self.prompt_positions is None else min(max(self.prompt_positions, 1), p)
        extra = self.total_positions - p
        context = doc.codes[:, p - prompt :].copy()  # (Q, prompt)
        out = np.asarray(self.prior.continue_codes(context, prompt, prompt + extra, self.settings))  # (Q, prompt + extra)
        if out.shape != (doc.levels, prompt + extra):
            raise BadInputError(f"the prior returned codes of shape {out.shape}; expected {(doc.levels, prompt + extra)}")
        return p, 0, out[:, prompt:]
