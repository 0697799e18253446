"""The editor's documents: every loaded sound, the A/B slots, the clipboard, muted levels, one shared undo history."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codes.clipboard import Clipboard
from ..codes.edits import Edit, EditResult
from ..codes.grid import CodeGrid
from ..codes.history import EditSession
from ..errors import BadInputError
from ..persistence.model_of_codes import note_model


@dataclass
class Sound:
    """One open grid and what the editor knows about it."""

    name: str
    audio_path: Path | None = None
    muted: set[int] = field(default_factory=set)
    audition: Any = None  # the latest `Audition` (decoded audio, spectrogram, phase)
    version: int = 0  # bumped by every change to the codes or the muted levels
    decoded_version: int = -1  # the version `audition` was decoded from
    generated: bool = False
    stamp: tuple[int, int] | None = None  # the codes file's (mtime_ns, size) when it was last read or written


def disk_stamp(path: Path) -> tuple[int, int] | None:
    """A file's (mtime_ns, size), or None when there is no file (or it cannot be read)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@dataclass
class Touched:
    """A sound an edit, undo or redo changed, and where (to redraw and re-decode)."""

    name: str
    result: EditResult
    label: str = ""  # the edit's label (on undo and redo: the one it was applied with)


class Workspace:
    """Sounds by unique name, edited through one `EditSession` (so a swap between A and B undoes as one step)."""

    def __init__(self) -> None:
        self.session = EditSession()
        self.sounds: dict[str, Sound] = {}
        self.a: str | None = None
        self.b: str | None = None
        self.clipboard: Clipboard | None = None
        self.model_file: Path | None = None  # the open model's file, recorded in every codes file written

    # ---- sounds
    def add(self, grid: CodeGrid, audio_path: Path | None = None, codes_path: Path | None = None,
            unsaved: bool = False, stamp: tuple[int, int] | None = None) -> Sound:
        """Open a grid under a fresh name (its own, made unique); it takes slot A if A is empty, else B if empty.

        `stamp` is `disk_stamp(codes_path)` taken before the codes file was read (see `changed_on_disk`).
        """
        name = self._unique(grid.name or "untitled")
        grid.name = name
        self.session.open(name, grid, unsaved=unsaved)
        self.session.slots[name].path = codes_path
        sound = Sound(name=name, audio_path=audio_path, generated=unsaved, stamp=stamp)
        self.sounds[name] = sound
        if self.a is None:
            self.a = name
        elif self.b is None:
            self.b = name
        return sound

    def close_all(self) -> None:
        """Close every sound, dropping unsaved edits, the history and the clipboard (another model's codes)."""
        self.session = EditSession()
        self.sounds.clear()
        self.a = self.b = None
        self.clipboard = None

    def _unique(self, base: str) -> str:
        base = re.sub(r"[^\S ]", " ", base.strip()) or "untitled"  # the file's own name; a tab or newline: a space
        name, n = base, 2
        while name in self.sounds:
            name, n = f"{base}-{n}", n + 1
        return name

    def grid(self, name: str | None) -> CodeGrid:
        if name is None:
            raise BadInputError("no sound is open")
        return self.session.grid(name)

    def sound(self, name: str | None) -> Sound:
        if name is None or name not in self.sounds:
            raise BadInputError("no sound is open")
        return self.sounds[name]

    def name_of(self, grid: CodeGrid) -> str | None:
        for name, slot in self.session.slots.items():
            if slot.grid is grid:
                return name
        return None

    def codes_path(self, name: str) -> Path | None:
        return self.session.slots[name].path

    def names(self) -> list[str]:
        return list(self.sounds)

    def opened_from(self, path: Path) -> str | None:
        """The open sound read from `path` (its audio or its codes file), if one is."""
        target = Path(path).resolve()
        for name, sound in self.sounds.items():
            for source in (sound.audio_path, self.codes_path(name)):
                if source is not None and Path(source).resolve() == target:
                    return name
        return None

    def named(self, typed: str) -> str:
        """The open sound a person means by `typed`: its name, in any case, or the start or a part of it that
        only one open sound has ("break" for break01). `BadInputError` says which match, or which are open."""
        if typed in self.sounds:
            return typed
        low = typed.lower()
        for test in (lambda n: n.lower() == low, lambda n: n.lower().startswith(low), lambda n: low in n.lower()):
            found = [n for n in self.sounds if test(n)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise BadInputError(f"{typed!r} could be {' or '.join(found[:4])}{' or more' if len(found) > 4 else ''}: "
                                    "type more of the name")
        raise BadInputError(f"{typed!r} is not an open sound (open: {', '.join(self.names())})")

    def set_slot(self, slot: str, name: str) -> None:
        if name not in self.sounds:
            raise BadInputError(f"no sound named {name!r}")
        if slot == "A":
            if self.b == name:
                self.b = self.a
            self.a = name
        else:
            if self.a == name:
                self.a = self.b
            self.b = name

    def exchange(self) -> None:
        """B becomes the sound being edited, A the other one."""
        if self.b is None:
            raise BadInputError("there is no sound in B: load or generate a second sound first")
        self.a, self.b = self.b, self.a

    # ---- editing
    def apply(self, edit: Edit, name: str | None = None, label: str = "") -> list[Touched]:
        """Apply an edit to a sound (A by default) through the shared history; a refused edit changes nothing.
        `label` says what it did; undo and redo say it again."""
        name = name or self.a
        if name is None:
            raise BadInputError("no sound is open")
        result = self.session.apply(name, edit, label)
        touched = [Touched(name, result, label)]
        if result.other is not None and result.other_changed is not None:
            other = self.name_of(result.other)
            if other is not None:
                touched.append(Touched(other, EditResult(result.other_changed)))
        for t in touched:
            self.sounds[t.name].version += 1
        return touched

    def undo(self) -> list[Touched] | None:
        return self._changes(self.session.undo())

    def redo(self) -> list[Touched] | None:
        return self._changes(self.session.redo())

    def _changes(self, changes: list[Any] | None) -> list[Touched] | None:
        if changes is None:
            return None
        out: list[Touched] = []
        for change in changes:
            name = self.name_of(change.doc)
            if name is None:
                continue
            out.append(Touched(name, change.result, change.label))
            r = change.result
            if r.other is not None and r.other_changed is not None:
                other = self.name_of(r.other)
                if other is not None:
                    out.append(Touched(other, EditResult(r.other_changed)))
        for name in {t.name for t in out}:
            self.sounds[name].version += 1
        return out

    def set_muted(self, name: str, muted: set[int]) -> None:
        sound = self.sound(name)
        if muted != sound.muted:
            sound.muted = set(muted)
            sound.version += 1

    # ---- saving
    def dirty(self, name: str) -> bool:
        return self.session.dirty(name)

    def dirty_names(self) -> list[str]:
        return [n for n in self.sounds if self.session.dirty(n)]

    def default_codes_path(self, name: str, folder: Path | None = None, taken: Collection[Path] = ()) -> Path:
        """Where ctrl+s saves a sound that has no codes file yet: `./<name>.codes.json`, numbered
        (`<name>-2.codes.json`, …) when that file is already there or in `taken` (chosen for another sound), so
        the offer replaces nothing."""
        known = self.codes_path(name)
        if known is not None:
            return known
        base, n = (folder or Path.cwd()), 2
        path = base / f"{name}.codes.json"
        while path.exists() or path in taken:
            path, n = base / f"{name}-{n}.codes.json", n + 1
        return path

    def changed_on_disk(self, name: str, path: Path | None = None) -> bool:
        """Another program changed or replaced the sound's codes file since the editor last read or wrote it.

        Only the file the sound was opened from or saved to is watched; another `path` (a save-as) is not.
        A file that is gone is not a change: writing it loses nothing.
        """
        known = self.codes_path(name)
        stamp = self.sound(name).stamp
        if known is None or stamp is None or (path is not None and Path(path) != known):
            return False
        now = disk_stamp(known)
        return now is not None and now != stamp

    def edit_state(self, name: str) -> int:
        """A token of the sound's edits so far: equal tokens, the same codes (`EditHistory.state`)."""
        return self.session.history.state(self.session.grid(name))

    def note_written(self, name: str, path: Path, state: int) -> None:
        """The editor itself just wrote the sound's codes, as they were at `state`, to `path` (an export's codes
        beside its audio). When that is the sound's own codes file, remember its new stamp, so the next save does
        not take it for another program's change; and if nothing was edited since, the sound is saved.
        A sound with no codes file yet (generated, or opened from audio) takes this one as its own, as a save
        would: quitting after an export asked "Quit and lose them?" of edits the file held."""
        if name not in self.sounds:  # closed meanwhile
            return
        known = self.codes_path(name)
        if known is None:
            self.session.slots[name].path = known = Path(path)
        elif Path(path).resolve() != known.resolve():
            return
        self.sound(name).stamp = disk_stamp(known)
        if self.edit_state(name) == state:
            self.session.history.mark_saved(self.session.grid(name))

    def save(self, name: str, path: Path | None = None) -> Path:
        """Write the sound's codes (to its own file by default) and remember the file as written."""
        note_model(self.grid(name).source, self.model_file)
        saved = self.session.save(name, path or self.default_codes_path(name))
        self.sound(name).stamp = disk_stamp(saved)
        return saved
