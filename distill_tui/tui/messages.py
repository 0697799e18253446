"""Messages the editor's widgets and workers post to each other (dataclasses, as in toolong's messages.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message

from ..inference.sampling import SamplingSettings


@dataclass
class ModelLoaded(Message):
    """The model (and its prior, if any) is ready; `engine` is the loaded `InferenceSession`."""

    engine: Any


@dataclass
class ModelFailed(Message):
    """The model could not be loaded: `what` names it, `reason` is one line for the user."""

    what: str
    reason: str


@dataclass
class SoundLoaded(Message):
    """An audio or codes file became a grid."""

    grid: Any  # CodeGrid
    audio_path: Path | None = None
    codes_path: Path | None = None
    slot: str | None = None  # "A" or "B" to show it there at once
    unsaved: bool = False  # a grid that exists on no disk (generated)
    stamp: tuple[int, int] | None = None  # the codes file's (mtime_ns, size) just before it was read
    note: str = ""  # for the status line once it is shown (e.g. "generated 3.5 s, seed 7")


@dataclass
class LoadFailed(Message):
    """A file could not be loaded (`what` names it); nothing in the editor changed."""

    what: str
    reason: str


@dataclass
class AuditionReady(Message):
    """A decode finished: `audition` is the `Audition` of the sound `name` at edit `version`."""

    name: str
    audition: Any
    version: int


@dataclass
class WorkFailed(Message):
    """A background job (decode, generate, regenerate) failed; the editor's state is unchanged."""

    what: str
    reason: str


@dataclass
class EditReady(Message):
    """A model-driven edit (regenerate, continue, blend) was computed in a worker; apply it to `name`."""

    name: str
    edit: Any
    label: str
    expect: Any = None  # the codes the edit was computed from: refused if the grid moved on meanwhile


@dataclass
class PlayDone(Message):
    """The router took a sound: `message` says where it went."""

    message: str
    route: str


@dataclass
class CursorMoved(Message):
    """The code grid's cursor or selection changed."""

    level: int
    position: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CursorMoved)


@dataclass
class ModeChanged(Message):
    """The code grid switched mode: NORMAL, EDIT, VISUAL or VISUAL LINE."""

    mode: str


@dataclass
class CodeTyped(Message):
    """In edit mode the user typed a whole code for a cell."""

    level: int
    position: int
    code: int


@dataclass
class GenerateRequested(Message):
    """The generate panel's action: sample a new grid of `seconds` with these settings (a loop when `loop`, a sound
    that starts and ends in silence when `one_shot`)."""

    seconds: float
    settings: SamplingSettings
    loop: bool = False
    one_shot: bool = False

    @property
    def shape(self) -> str:
        """What is asked for, in the words the editor says: "", "a loop of " or "a one-shot of "."""
        return "a loop of " if self.loop else "a one-shot of " if self.one_shot else ""
