"""`EditHistory` (bounded undo / redo, dirty flags) and `EditSession` (grids side by side).

Edits are recorded after `do`; each recorded edit is one undo step, whatever the time between them:
a typed two-digit code is one `SetCell`, so `u` takes back exactly one code however fast it was typed.
One history may serve several grids (A and B side by side), so an edit that writes both (a swap)
undoes in the right order for both.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BadInputError
from .edit_base import Edit, EditResult
from .grid import CodeGrid


@dataclass
class _Entry:
    edit: Edit
    doc: CodeGrid
    touched: tuple[CodeGrid, ...]
    seq: int  # a unique, increasing number: names the state each touched grid is left in
    prev: dict[int, int] = field(default_factory=dict)  # id(grid) -> the state it was in before
    label: str = ""  # what the edit did, in the editor's words ("L1:12 = 3f"): said again on undo and redo


@dataclass
class Change:
    """One grid changed by an undo or redo, and where."""

    doc: CodeGrid
    result: EditResult
    label: str = ""  # the edit's own label, as it was recorded


@dataclass
class EditHistory:
    """Bounded undo and redo stacks: one step per edit (a step is a batch of one `_Entry`)."""

    max_checkpoints: int = 500

    _undo: deque[list[_Entry]] = field(init=False, default_factory=deque)
    _redo: deque[list[_Entry]] = field(init=False, default_factory=deque)
    _seq: int = field(init=False, default=0)
    _current: dict[int, int] = field(init=False, default_factory=dict)  # id(grid) -> the state it is in now
    _saved: dict[int, int] = field(init=False, default_factory=dict)  # id(grid) -> the state it was saved in
    _grids: dict[int, CodeGrid] = field(init=False, default_factory=dict)  # keeps ids valid

    def apply(self, edit: Edit, doc: CodeGrid, label: str = "") -> EditResult:
        """Do an edit and record it. A refused edit (an exception) leaves grid and history unchanged."""
        result = edit.do(doc)
        self.record(edit, doc, label)
        return result

    def record(self, edit: Edit, doc: CodeGrid, label: str = "") -> None:
        """Record an edit that has just been done on `doc`, as an undo step of its own."""
        self._seq += 1
        touched = edit.touched(doc)
        entry = _Entry(edit, doc, touched, self._seq, label=label)
        for g in touched:
            self._track(g)
            entry.prev[id(g)] = self._current.get(id(g), 0)
            self._current[id(g)] = self._seq
        if len(self._undo) >= self.max_checkpoints:
            self._undo.popleft()  # the grids' states stay named by the newer steps
        self._undo.append([entry])
        self._redo.clear()

    def undo(self) -> list[Change] | None:
        """Undo the latest step; returns what changed (latest first), or None if there is nothing to undo."""
        if not self._undo:
            return None
        batch = self._undo.pop()
        changes = []
        for e in reversed(batch):
            changes.append(Change(e.doc, e.edit.undo(e.doc), e.label))
            self._current.update(e.prev)
        self._redo.append(batch)
        return changes

    def redo(self) -> list[Change] | None:
        """Replay the latest undone step exactly; None if there is nothing to redo."""
        if not self._redo:
            return None
        batch = self._redo.pop()
        changes = []
        for e in batch:
            changes.append(Change(e.doc, e.edit.do(e.doc), e.label))
            self._current.update({key: e.seq for key in e.prev})
        self._undo.append(batch)
        return changes

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_steps(self) -> int:
        return len(self._undo)

    @property
    def redo_steps(self) -> int:
        return len(self._redo)

    # ---- dirty flags: a grid's state is named by the last edit applied to it (O(1) to ask)

    def state(self, doc: CodeGrid) -> int:
        return self._current.get(id(doc), 0)

    def mark_saved(self, doc: CodeGrid) -> None:
        """`doc` is as on disk now (undo can land on this state: the next edit is a step of its own)."""
        self._track(doc)
        self._saved[id(doc)] = self.state(doc)

    def mark_unsaved(self, doc: CodeGrid) -> None:
        """Dirty until the next save, whatever is undone (a grid that exists on no disk)."""
        self._track(doc)
        self._saved[id(doc)] = -1

    def is_dirty(self, doc: CodeGrid) -> bool:
        """True when `doc` differs from its last save (or from how it entered the history)."""
        return self.state(doc) != self._saved.get(id(doc), 0)

    def forget(self, doc: CodeGrid) -> None:
        """Drop the steps that touched `doc` (it is being replaced). If any of them also touched
        another grid, every step goes: the others' history would no longer replay correctly."""
        shared = any(len(e.touched) > 1 and any(g is doc for g in e.touched)
                     for stack in (self._undo, self._redo) for batch in stack for e in batch)
        if shared:
            self.clear()
        else:
            for stack in (self._undo, self._redo):
                kept = [b for b in stack if not any(e.doc is doc for e in b)]
                stack.clear()
                stack.extend(kept)
        for table in (self._current, self._saved, self._grids):
            table.pop(id(doc), None)

    def clear(self) -> None:
        """Forget every step; each grid's current state counts as saved if it was saved before."""
        dirty = {key: self.is_dirty(g) for key, g in self._grids.items()}
        self._undo.clear()
        self._redo.clear()
        self._seq += 1
        for key in self._grids:
            self._current[key] = self._seq
            self._saved[key] = -1 if dirty[key] else self._seq  # dirty stays dirty until the next save

    def _track(self, doc: CodeGrid) -> None:
        self._grids.setdefault(id(doc), doc)


@dataclass
class Slot:
    """A grid open in the session, and the file it was loaded from or last saved to."""

    grid: CodeGrid
    path: Path | None = None


class EditSession:
    """Named grids (usually "A" and "B") edited with one shared history."""

    def __init__(self, history: EditHistory | None = None) -> None:
        self.history = history or EditHistory()
        self.slots: dict[str, Slot] = {}

    def grid(self, name: str) -> CodeGrid:
        try:
            return self.slots[name].grid
        except KeyError:
            raise BadInputError(f"no grid is open as {name!r}") from None

    def open(self, name: str, grid: CodeGrid | str | Path, *, discard: bool = False, unsaved: bool = False) -> CodeGrid:
        """Put a grid (or a codes file, validated) in a slot. Unsaved edits there are never lost silently:
        the load is refused unless `discard` is True. A file that fails validation leaves the slot as it was.
        `unsaved` marks a grid that exists on no disk (generated) as dirty from the start."""
        old = self.slots.get(name)
        if old is not None and self.history.is_dirty(old.grid) and not discard:
            raise BadInputError(f"{name} has unsaved edits; save them first, or discard them to load another grid",
                                old.path)
        path = None
        if not isinstance(grid, CodeGrid):
            path = Path(grid)
            grid = CodeGrid.load(path)  # raises before anything changes
        if old is not None:
            self.history.forget(old.grid)
        self.slots[name] = Slot(grid, path)
        self.history.mark_saved(grid)
        if unsaved:
            self.history.mark_unsaved(grid)
        return grid

    def apply(self, name: str, edit: Edit, label: str = "") -> EditResult:
        return self.history.apply(edit, self.grid(name), label)

    def undo(self) -> list[Change] | None:
        return self.history.undo()

    def redo(self) -> list[Change] | None:
        return self.history.redo()

    def dirty(self, name: str) -> bool:
        return self.history.is_dirty(self.grid(name))

    def save(self, name: str, path: str | Path | None = None) -> Path:
        slot = self.slots.get(name)
        if slot is None:
            raise BadInputError(f"no grid is open as {name!r}")
        target = Path(path) if path is not None else slot.path
        if target is None:
            raise BadInputError(f"{name} has never been saved: give a path")
        slot.grid.save(target)
        slot.path = target
        self.history.mark_saved(slot.grid)
        return target
