"""`Player`: the audio router, what is playing, and the playhead clock (30 ticks a second).

The router (`playback.routing.Router`, or a test's stand-in) is made in a worker, because finding an
audio device can take a while. Playing runs in a worker too; the clock reads the router's position and
hands it to the editor, which draws the playhead.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from textual.dom import DOMNode
from textual.message import Message

from ..errors import DistillError
from .messages import PlayDone
from .workers import report_failures

TICK_S = 1 / 30
START_GRACE_S = 0.5  # a router may report no position for a moment after it starts


class Player:
    """Plays one sound at a time through `router`; `host` (the editor) runs its workers and timer.

    `on_position(seconds)` is called on every tick while playing and returns False once the position is
    past the sound's end; `on_end()` is called when playing should stop (the router went quiet, or the
    end was reached).
    """

    def __init__(self, host: DOMNode, router: Any = None, *, on_position: Callable[[float], bool],
                 on_end: Callable[[], None]) -> None:
        self.host = host
        self.router = router
        self.on_position = on_position
        self.on_end = on_end
        self.playing = False
        self.follow = False  # scroll with the playhead
        self.what = "edit"  # what is playing: "edit" (the decode of the codes) or "original" (see ab_listen)
        self._offset = 0.0  # seconds of the sound skipped at the start (a switch between A/B mid-sound)
        self._started: float | None = None
        self._timer: Any = None
        self._cycle_started: float | None = None  # `_started` of the cycle playing round (loop playback, below)

    def post_message(self, message: Message) -> bool:
        """Failures of the workers go to the host (see `report_failures`)."""
        return self.host.post_message(message)

    # ---- the router
    def start_router(self) -> None:
        """Make the audio router in a worker, unless one was given."""
        if self.router is None:
            self.host.run_worker(self._make_router, thread=True, exclusive=True, group="router",
                                 description="audio router")

    def ensure_router(self) -> None:
        """`start_router`, unless there is a router or one is being made: the editor asks at start-up (a sound
        from the decoded-audio cache can play before the model loads) and again once the model is loaded."""
        if self.router is None and not any(w.group == "router" and not w.is_finished for w in self.host.workers):
            self.start_router()

    @report_failures("audio")
    def _make_router(self) -> None:
        from ..playback.routing import Router

        router = Router()
        notice = router.notice()
        self.router = router
        if notice:
            self.host.app.call_from_thread(self.host.notify, notice, title="Listening", timeout=12)

    # ---- playing
    def play(self, audio: np.ndarray, sample_rate: int, name: str, *, start_s: float = 0.0, what: str = "edit") -> bool:
        """Start playing `audio` from `start_s` seconds in, and the playhead clock; False (with a warning) while
        there is no router. `what` says what it is ("edit" or "original"), for the A/B key."""
        if self.router is None:
            self.host.notify("audio output is not ready yet", severity="warning")
            return False
        start = min(max(int(start_s * sample_rate), 0), max(len(audio) - 1, 0))
        audio = audio[start:]
        self.playing, self.what, self._offset = True, what, start / sample_rate
        self._started = time.monotonic()
        self.host.run_worker(functools.partial(self._play, audio, sample_rate, name), thread=True, exclusive=True,
                             group="play", description=f"play {name}")
        self._start_ticking()
        return True

    def _start_ticking(self) -> None:
        """The playhead timer: made on the first play, resumed on the next ones."""
        if self._timer is None:
            self._timer = self.host.set_interval(TICK_S, self._tick)
        else:
            self._timer.resume()

    @report_failures("playing")
    def _play(self, audio: np.ndarray, sample_rate: int, name: str) -> None:
        result = self.router.play(audio, sample_rate, name=name)
        self.post_message(PlayDone(result.message, result.route))

    @property
    def position(self) -> float | None:
        """Seconds into the whole sound now playing (None when nothing is, or the router cannot say)."""
        if not self.playing or self.router is None:
            return None
        seconds = self.router.position
        return None if seconds is None else self._offset + seconds

    def stop(self) -> None:
        """Stop the router (if it was playing) and the clock."""
        if self.playing and self.router is not None:
            try:
                self.router.stop()
            except DistillError:
                pass
        self.playing = False
        if self._timer is not None:
            self._timer.pause()

    def _tick(self) -> None:
        if not self.playing or self.router is None:
            return
        seconds = self.router.position
        if seconds is None:
            in_grace = self._started is not None and time.monotonic() - self._started < START_GRACE_S
            if not in_grace:
                self.on_end()
            return
        if not self.on_position(self._offset + seconds):
            self.on_end()

    # ---- loop playback (issue 14): a cycle decoded as a loop, played round until stopped (see tui/loop_play.py)
    @property
    def looping(self) -> bool:
        """A cycle is playing round (`play_cycle`); `play` or `stop` ends that (each sets a new start or stops)."""
        return self.playing and self._cycle_started is not None and self._cycle_started == self._started

    def play_cycle(self, cycle: np.ndarray, sample_rate: int, name: str, *, at_wrap: bool = False) -> bool:
        """Play `cycle` (N,) round and round until stopped, the playhead wrapping to its start; False (with a
        warning) while there is no router. `at_wrap` while a cycle plays: the new one takes over at the next
        repetition (the router's `cycle=True, at_wrap=True`), and the playhead runs on."""
        if self.router is None:
            self.host.notify("audio output is not ready yet", severity="warning")
            return False
        at_wrap = at_wrap and self.looping
        if not at_wrap:
            self._started = time.monotonic()
        self.playing, self.what, self._offset, self._cycle_started = True, "edit", 0.0, self._started
        self.host.run_worker(functools.partial(self._play_cycle, cycle, sample_rate, name, at_wrap), thread=True,
                             exclusive=True, group="play", description=f"loop {name}")
        self._start_ticking()
        return True

    @report_failures("playing")
    def _play_cycle(self, cycle: np.ndarray, sample_rate: int, name: str, at_wrap: bool) -> None:
        result = self.router.play(cycle, sample_rate, name=name, cycle=True, at_wrap=at_wrap)
        self.post_message(PlayDone(result.message, result.route))
