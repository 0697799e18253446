"""Loop playback: the `L` key makes the sound in A a loop (or not); a loop plays round and round until stopped.

A loop is decoded as a loop (`InferenceSession.decode_loop`: wrap-around context on both sides, so its end runs
into its start) and the one cycle is handed to the router, which repeats it exactly, the playhead wrapping to
the start. While it plays, every tick of the playhead looks whether the sound changed (an edit, an undo, a
muted level); if so the new state is decoded as a loop and takes over at the next repetition (on a listener:
when this side's clock says the repetition begins). One loop decode runs at a time; edits made meanwhile are
picked up by the next. The mode is the grid's `loop` flag (`source.loop` in the codes file, saved with the
codes): sounds generated as loops start with it on. It is a way of listening, not an edit: it is not undone
with `u` and does not by itself mark the sound unsaved.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from textual.message import Message

from ..codes.grid import CodeGrid
from .workers import report_failures

if TYPE_CHECKING:
    from .workspace import Workspace


@dataclass
class CycleReady(Message):
    """One cycle of `name` decoded as a loop, from its state `version`; None when the decode failed."""

    name: str
    version: int
    cycle: np.ndarray | None  # (N,) float32 at the model's rate, N = positions * stride * hop
    at_wrap: bool  # an edit heard from the next repetition (else: start playing now)


class LoopPlaying:
    """Mixed into the editor screen (`EditorScreen`): the `L` key and loop playback. Uses the editor's `ws`,
    `engine`, `player`, `playing`, `action_play`, `stop_playing`, `require`, `notify`, `set_message` and
    `run_worker`."""

    ws: Workspace
    engine: Any
    player: Any
    _loop_waiting = False  # space was pressed on a loop: play its cycle when it is decoded
    _loop_busy = False  # a loop decode is running
    _loop_version = -1  # the sound's version that the cycle playing now was decoded from

    def action_loop_play(self) -> None:
        """Toggle loop playback for the sound in A; if it was playing, it plays on in the new mode."""
        name = self.ws.a
        if name is None or not self.require("sound"):  # type: ignore[attr-defined]
            return
        grid = self.ws.grid(name)
        grid.loop = not grid.loop
        if self.playing or self._loop_waiting:  # type: ignore[attr-defined]
            self.stop_playing()  # type: ignore[attr-defined]
            self.action_play()  # type: ignore[attr-defined]
        self.set_message("loop playback on: space plays the sound round and round until you stop it"  # type: ignore[attr-defined]
                         if grid.loop else "loop playback off: space plays the sound once")

    def loop_wanted(self, name: str) -> bool:
        """`name` plays as a loop (its grid's `loop` flag)."""
        return self.ws.grid(name).loop

    def play_loop(self, name: str) -> None:
        """Decode `name` as a loop, then play it round (`on_cycle_ready`)."""
        if not self.require("model"):  # type: ignore[attr-defined]
            return
        self._loop_waiting = True
        self._loop_decode(name, at_wrap=False)
        self.set_message("decoding the loop, then playing it round…")  # type: ignore[attr-defined]

    def loop_stop(self) -> None:
        """Forget a loop that waited for its decode (the editor's `stop_playing`)."""
        self._loop_waiting = False

    def loop_follow_edits(self) -> None:
        """On every playhead tick: while a loop plays, decode its newest state when it changed."""
        name = self.ws.a
        if self._loop_busy or name is None or not self.player.looping:
            return
        if self.ws.sound(name).version != self._loop_version:
            self._loop_decode(name, at_wrap=True)

    def _loop_decode(self, name: str, *, at_wrap: bool) -> None:
        sound = self.ws.sound(name)
        self._loop_busy = True
        job = functools.partial(self._loop_job, name, sound.version, self.ws.grid(name).copy(), set(sound.muted), at_wrap)
        self.run_worker(job, thread=True, group="loop", description=f"decode {name} as a loop")  # type: ignore[attr-defined]

    def _loop_job(self, name: str, version: int, grid: CodeGrid, muted: set[int], at_wrap: bool) -> None:
        """In a worker: the cycle, posted as `CycleReady` (None after a failure, which is reported)."""
        cycle = self._loop_cycle(grid, muted)
        self.post_message(CycleReady(name, version, cycle, at_wrap))  # type: ignore[attr-defined]

    @report_failures("loop playback")
    def _loop_cycle(self, grid: CodeGrid, muted: set[int]) -> np.ndarray:
        return self.engine.decode_loop(grid, muted)

    def on_cycle_ready(self, message: CycleReady) -> None:
        """Play the cycle round (or hand it over at the next repetition), unless playing stopped meanwhile."""
        self._loop_busy = False
        name = self.ws.a
        if message.cycle is None or message.name != name:
            self._loop_waiting = False
            self._loop_version = message.version  # a failed decode is tried again after the next change only
            return
        wanted = self.player.looping if message.at_wrap else self._loop_waiting
        self._loop_waiting = False
        if not wanted or not self.loop_wanted(name):
            return
        self._loop_version = message.version
        self.player.play_cycle(message.cycle, self.ws.grid(name).sample_rate, name, at_wrap=message.at_wrap)
