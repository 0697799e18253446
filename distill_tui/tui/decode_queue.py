"""`DecodeQueue`: which sounds need decoding, decoded one at a time in one thread worker, slot A first.

Requests coalesce: a sound edited ten times while a decode runs is decoded once more, from its newest
state. Each job is a snapshot taken on the UI thread (the grid copied, the muted levels, the previous
`Audition` to re-decode from), so the worker never reads a grid the user is editing. A result is stored
on the UI thread; if the sound changed meanwhile it goes back in the queue.

Before the model is loaded, a request is answered from the decoded-audio cache (audio/decoded_cache.py) when
it holds the full decode of the sound's grid as it is now, so `space` plays before torch is imported; an
edited grid misses and waits for the model. Once the model is loaded, sounds holding such a cached decode are
decoded afresh (for the spectrogram, and the phase a partial re-decode starts from; space waits for that decode
in the moment after the model loads); the worker
keeps each full decode of a sound unedited since it was opened in that cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import get_current_worker

from ..audio.decoded_cache import CachedAudition, DecodedAudioCache, DecodeKey
from ..codes.grid import CodeGrid
from ..persistence.document import ModelDocument
from ..words import duration
from .loading import decode_key
from .messages import AuditionReady
from .workers import report_failures
from .workspace import Workspace

LONG_DECODE_S = 20.0  # a full decode of a sound this long (1 s and more of waiting) says so in the status line


@dataclass
class DecodeJob:
    """One sound to decode, as it was when the job was taken."""

    name: str
    grid: CodeGrid  # a copy
    muted: set[int]
    previous: Any  # the `Audition` to re-decode from, or None for a full decode
    version: int
    keep: bool = False  # a full decode of it goes to the decoded-audio cache (opened from a file, unedited, unmuted)
    fresh: bool = False  # the full decode after a pause in the edits: it gives way to any other decode


class GaveWay(Exception):
    """Ends a fresh full decode after its current Griffin-Lim iteration (or chunk): a sound was edited meanwhile."""


class DecodeQueue:
    """Decode requests for the sounds of a `Workspace`, served by one worker of `host` (the editor screen).

    A sound decoded by partial re-decodes is decoded afresh once nothing changed for `idle_full_decode_s`
    seconds and `busy()` (playing) is false: partial re-decodes are exact for the spectrogram but chain
    Griffin-Lim phases (bench/RESULTS.md, editing engine). That decode takes 10 s for a 3-minute sound; an edit
    (of any sound) meanwhile stops it after its current Griffin-Lim iteration and is decoded first, and the fresh decode is tried
    again after the next pause. Every stored result is posted to `host` as `AuditionReady`.
    """

    def __init__(self, host: DOMNode, ws: Workspace, *, idle_full_decode_s: float,
                 busy: Callable[[], bool] = lambda: False, audio_cache: DecodedAudioCache | None = None) -> None:
        self.host = host
        self.ws = ws
        self.audio_cache = audio_cache or DecodedAudioCache()
        self.key: DecodeKey | None = None  # the model being loaded, from its file's header (see `expect`)
        self._engine: Any = None
        self.idle_full_decode_s = idle_full_decode_s
        self.busy = busy
        self.last_decode_ms: float | None = None
        self._pending: list[str] = []
        self._fresh: set[str] = set()  # sounds to decode from scratch (not partially) on their next turn
        self._running = False
        self._announced: str | None = None  # the sound whose long decode the status line says is running
        self._fresh_running = False  # the worker runs a fresh full decode (read and set on the UI thread)
        self._give_way = threading.Event()  # set on the UI thread: that decode stops at its next check

    def post_message(self, message: Message) -> bool:
        """Failures of the worker go to the host (see `report_failures`)."""
        return self.host.post_message(message)

    @property
    def engine(self) -> Any:
        """The `InferenceSession`; nothing is decoded until there is one (the cache may answer before)."""
        return self._engine

    @engine.setter
    def engine(self, engine: Any) -> None:
        self._engine = engine
        if engine is not None:
            for name, sound in list(self.ws.sounds.items()):
                if isinstance(sound.audition, CachedAudition):  # decoded afresh: the spectrogram, a phase to edit from
                    sound.decoded_version = -1  # so that whoever waits for a decode waits for that one
                    self.request(name)

    def expect(self, key: DecodeKey | None) -> None:
        """The decode key of the model being loaded (None: none known). The loader calls this from its worker,
        before it posts that model's first grid; it is read on the UI thread when those grids arrive."""
        self.key = key

    def request(self, name: str, *, fresh: bool = False) -> None:
        """Decode `name` when its turn comes (after A); `fresh` skips the partial re-decode. Before the model is
        loaded, only the decoded-audio cache can answer."""
        if self.engine is None:
            self._from_cache(name)
            return
        if fresh:
            self._fresh.add(name)
        elif self._fresh_running:
            self._give_way.set()
        if name not in self._pending:
            self._pending.append(name)
        if not self._running:
            self._running = True
            self.host.run_worker(self._serve, thread=True, exclusive=True, group="decode", description="decode")

    def is_current(self, name: str) -> bool:
        """The sound's latest decode is of its current state."""
        sound = self.ws.sounds.get(name)
        return sound is not None and sound.audition is not None and sound.decoded_version == sound.version

    def is_full(self, name: str) -> bool:
        """The sound's latest decode is a full decode of its current state (not chained partial re-decodes)."""
        return self.is_current(name) and not getattr(self.ws.sounds[name].audition, "partial", False)

    def _next_job(self) -> DecodeJob | None:
        """On the UI thread: the next sound to decode, as a snapshot (A first); None ends the worker."""
        while self._pending:
            name = self.ws.a if self.ws.a in self._pending else self._pending[0]
            self._pending.remove(name)
            fresh = name in self._fresh
            self._fresh.discard(name)
            sound = self.ws.sounds.get(name)
            if sound is None or (self.is_current(name) and not fresh):
                continue
            previous = None if fresh or isinstance(sound.audition, CachedAudition) else sound.audition
            keep = sound.version == 0 and not sound.muted and sound.audio_path is not None
            grid = self.ws.grid(name)
            # seconds of silence otherwise; but the idle (fresh) full decode after edits replaces audio that is heard
            # already, and saying so replaced the last message ("undo: …") for nothing
            if previous is None and not fresh and name == self.ws.a and grid.seconds >= LONG_DECODE_S:
                self._announced = name
                self.host.set_message(f"decoding {duration(grid.seconds)} of audio…")
            self._fresh_running = fresh
            self._give_way.clear()
            return DecodeJob(name, grid.copy(), set(sound.muted), previous, sound.version, keep, fresh)
        self._running = False
        self._fresh_running = False
        return None

    def _serve(self) -> None:
        """In the worker: decode what `request` queued, newest state first, until nothing is stale."""
        worker = get_current_worker()
        app = self.host.app
        while not worker.is_cancelled:
            try:
                job = app.call_from_thread(self._next_job)
            except RuntimeError:  # the app is closing
                return
            if job is None:
                return
            engine = self.engine
            audition = self._decode(engine, job)
            if audition is not None:
                app.call_from_thread(self._store, job, audition)
                self._keep(engine, job, audition)

    @report_failures("decoding")
    def _decode(self, engine: Any, job: DecodeJob) -> Any:
        if not job.fresh:
            return engine.decode(job.grid, job.muted, job.previous)
        try:
            return engine.decode(job.grid, job.muted, step=self._check_give_way)
        except GaveWay:  # the sound keeps its partial decodes; the edit's decode is next, this one after a pause
            self.host.app.call_from_thread(self._after_a_pause, job.name, job.version)
            return None

    def _check_give_way(self) -> None:
        if self._give_way.is_set():
            raise GaveWay

    def _keep(self, engine: Any, job: DecodeJob, audition: Any) -> None:
        """In the worker, after the result is stored: a full decode of a sound unedited since it was opened goes
        to the decoded-audio cache, under the key of the model that decoded it."""
        doc = getattr(engine, "doc", None)
        iters = getattr(getattr(engine, "auditioner", None), "iters", None)
        if not job.keep or getattr(audition, "partial", True) or not isinstance(doc, ModelDocument) or iters is None:
            return
        self.audio_cache.store(decode_key(doc, iters), job.grid, job.muted, audition.audio)

    def _from_cache(self, name: str) -> bool:
        """Before the model: store the sound's cached full decode if the cache holds one of its grid as it is now."""
        sound = self.ws.sounds.get(name)
        if self.key is None or sound is None or self.is_current(name):
            return False
        grid = self.ws.grid(name)
        audition = self.audio_cache.audition(self.key, grid, sound.muted)
        if audition is None:
            return False
        self._store(DecodeJob(name, grid.copy(), set(sound.muted), None, sound.version), audition)
        return True

    def _store(self, job: DecodeJob, audition: Any) -> None:
        name, version = job.name, job.version
        sound = self.ws.sounds.get(name)
        if sound is None:
            return
        sound.audition, sound.decoded_version = audition, version
        if self._announced == name:
            self._announced = None
            self.host.set_message(f"decoded {name}")
        if not isinstance(audition, CachedAudition):
            self.last_decode_ms = 1000 * float(getattr(audition, "seconds", 0.0))
        if sound.version != version and name not in self._pending:
            self._pending.append(name)  # edited meanwhile: the worker picks it up next
        elif getattr(audition, "partial", False):
            self._after_a_pause(name, version)
        self.host.post_message(AuditionReady(name, audition, version))

    def _after_a_pause(self, name: str, version: int) -> None:
        """Decode `name` afresh once it is unchanged from `version` for `idle_full_decode_s` (and not playing)."""
        self.host.set_timer(self.idle_full_decode_s, lambda: self._refresh_when_idle(name, version))

    def _refresh_when_idle(self, name: str, version: int) -> None:
        sound = self.ws.sounds.get(name)
        if sound is None or sound.version != version or self.busy() or not getattr(sound.audition, "partial", False):
            return
        self.request(name, fresh=True)
