"""A/B against the original: one key (`a`) plays the original of the sound in A, or switches between it and the
edit at the same moment while playing, and says in words how far apart the two are.

The original is the recording the sound was encoded from (read again, at the model's rate), or, for a sound with
no recording (generated, or opened from a codes file), the decode of its codes as they were when it was opened.
How far: the log-spectral distance (`analysis.quality.log_spectral_distance`, the level matched, on the scoring
STFT of the model's rate) between the original and the current edit's decode, read on the one scale of words in
`analysis/closeness.py` ("close" under 2 dB, "changed" to 6 dB, "rough" above). Against a recording the distance
includes the model's own loss, so the words come with the unedited decode's distance beside them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from textual.message import Message

from ..analysis.closeness import CLOSE_DB, ROUGH_DB, Closeness, closeness
from ..codes.grid import CodeGrid
from .workers import report_failures

if TYPE_CHECKING:
    from .workspace import Workspace

ORIGINAL, EDIT = "original", "edit"


def distance_db(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """The log-spectral distance between two sounds at `sample_rate` (torch is imported here)."""
    from ..analysis.quality import log_spectral_distance

    return log_spectral_distance(reference, estimate, sample_rate)


def verdict(c: Closeness, what: str, baseline: Closeness | None) -> str:
    """One line for the musician, e.g. "close: your version and the original recording are 1.4 dB apart …"."""
    line = f"{c.word}: your version and {what} are {c.lsd_db:.1f} dB apart"
    if baseline is not None:
        line += f" (before any edit: {baseline.lsd_db:.1f} dB, the model's own difference)"
    return line + f" · under {CLOSE_DB:g} dB reads close, over {ROUGH_DB:g} rough"


@dataclass
class Original:
    """The original of one open sound, filled in the first time it is asked for."""

    grid: CodeGrid  # the live grid it belongs to: a sound opened again under the same name is another grid
    opened: CodeGrid  # a copy of the codes as they were opened
    audio_path: Path | None
    audio: np.ndarray | None = None  # (N,) float32 at the model's rate
    baseline: Closeness | None = None  # the unedited decode against the recording (None without a recording)

    @property
    def what(self) -> str:
        return "the original recording" if self.audio_path is not None else "the sound as it was opened"


@dataclass
class OriginalReady(Message):
    """The original of `name` and its distance from the edit's decode of `version`; `start_s` is where to start."""

    name: str
    version: int
    original: Original
    closeness: Closeness
    start_s: float


class ABListening:
    """Mixed into the editor screen (`EditorScreen`): the `a` key and what it needs. Uses the editor's `ws`,
    `engine`, `decoder`, `player`, `require`, `notify`, `set_message` and `run_worker`."""

    ws: Workspace
    engine: Any
    decoder: Any
    player: Any

    def ab_remember(self, name: str, grid: CodeGrid, audio_path: Path | None) -> None:
        """Keep the codes of a sound just opened (the original when it has no recording)."""
        self._ab_originals()[name] = Original(grid=grid, opened=grid.copy(), audio_path=audio_path)

    def _ab_originals(self) -> dict[str, Original]:
        if not hasattr(self, "_ab_store"):
            self._ab_store: dict[str, Original] = {}
        return self._ab_store

    def action_ab(self) -> None:
        """Play the original (from the start, or where the edit is playing), or go back to the edit."""
        name = self.ws.a
        if not (self.require("sound") and self.require("model")) or name is None:  # type: ignore[attr-defined]
            return
        original = self._ab_originals().get(name)
        if original is None or original.grid is not self.ws.grid(name):
            self.notify("this sound has no original to compare with", severity="warning")  # type: ignore[attr-defined]
            return
        if not self.decoder.is_current(name):
            self.decoder.request(name)
            self.set_message("decoding your edit first: press a again in a moment")  # type: ignore[attr-defined]
            return
        at = self.player.position if self.player.playing else None
        sound, grid = self.ws.sound(name), self.ws.grid(name)
        if at is not None and self.player.what == ORIGINAL:  # back to the edit, at the same moment
            self.player.play(sound.audition.audio, grid.sample_rate, name, start_s=at, what=EDIT)
            self.set_message(f"hearing your edit from {at:.2f} s · a: the original")  # type: ignore[attr-defined]
            return
        job = functools.partial(self._ab_prepare, name, sound.version, original, sound.audition.audio,
                                grid.sample_rate, at or 0.0)
        self.run_worker(job, thread=True, exclusive=True, group="ab", description="A/B")  # type: ignore[attr-defined]

    @report_failures("A/B")
    def _ab_prepare(self, name: str, version: int, original: Original, edit: np.ndarray, sample_rate: int,
                    start_s: float) -> None:
        """In a worker: read (or decode) the original once, measure the edit against it, post `OriginalReady`."""
        if original.audio is None:
            if original.audio_path is not None:
                from ..data.dataset import load_named_audio

                original.audio = load_named_audio(original.audio_path, sample_rate).samples
                unedited = self.engine.decode(original.opened, set()).audio
                original.baseline = closeness(distance_db(original.audio, unedited, sample_rate))
            else:
                original.audio = self.engine.decode(original.opened, set()).audio
        c = closeness(distance_db(original.audio, edit, sample_rate))
        self.post_message(OriginalReady(name, version, original, c, start_s))  # type: ignore[attr-defined]

    def on_original_ready(self, message: OriginalReady) -> None:
        """Play the original and say how close the edit is (in the status line and a toast)."""
        name = self.ws.a
        if message.name != name or message.original.audio is None:
            return
        rate = self.ws.grid(name).sample_rate
        line = verdict(message.closeness, message.original.what, message.original.baseline)
        self.player.play(message.original.audio, rate, f"{name} (original)", start_s=message.start_s, what=ORIGINAL)
        self.ab_last = message.closeness
        self.set_message(f"hearing {message.original.what} · a: your edit")  # type: ignore[attr-defined]
        self.notify(line, title=f"A/B: {message.closeness.word}", timeout=10)  # type: ignore[attr-defined]
