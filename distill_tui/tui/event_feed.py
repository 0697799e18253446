"""Follow a run's `events.jsonl` in a thread and tell a screen "new events" with one collapsible message.

The thread (toolong's file-reading thread) reads only whole new lines from a byte offset; it starts from the
log's tail, so attaching to a long run never reads the whole file. New events go into a buffer; the screen
gets a `FeedUpdated` message, and a flood of them collapses (`can_replace`) into one, after which the
screen drains the whole buffer at once.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message
from textual.message_pump import MessagePump

from ..train.events import Event, parse_line
from ..train.runs import pid_alive, read_pid, trainer_pid

TAIL_BYTES = 1 << 20  # attach: read at most the last MiB (about 3,000 step events)


@dataclass
class FeedUpdated(Message):
    """New events (or a change of the trainer's life) are waiting in the feed: call `feed.drain()`."""

    run_dir: Path

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedUpdated) and message.run_dir == self.run_dir


@dataclass
class FeedBatch:
    """What arrived since the last drain."""

    events: list[Event] = field(default_factory=list)
    reset: bool = False  # the log was truncated or replaced: forget what was shown and start over
    alive: bool | None = None  # whether the trainer process lives (None: not known yet)
    skipped_bytes: int = 0  # bytes of the log not read when attaching (its head)


class EventFollower:
    """Reads whole new lines from a byte offset; a half-written last line waits for its newline."""

    def __init__(self, path: Path, tail_bytes: int = TAIL_BYTES) -> None:
        self.path = Path(path)
        self.tail_bytes = tail_bytes
        self.offset: int | None = None  # None: not attached yet
        self._partial = b""
        self._inode: int | None = None
        self.skipped_bytes = 0
        self.bad_lines = 0

    def poll(self) -> tuple[list[Event], bool]:
        """(new events, reset): the first call reads the tail; later calls only what was appended."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return [], False
        reset = False
        if self.offset is not None and (st.st_size < self.offset or st.st_ino != self._inode):
            self.offset, self._partial, reset = None, b"", True  # truncated or replaced: read it afresh
        first = self.offset is None
        with open(self.path, "rb") as fh:
            if first:
                start = max(0, st.st_size - self.tail_bytes)
                self.skipped_bytes = start
                fh.seek(start)
                data = fh.read()
                if start > 0:  # the bytes before the first newline belong to a line not read whole
                    data = data.split(b"\n", 1)[1] if b"\n" in data else b""
            else:
                fh.seek(self.offset)
                data = fh.read()
            self.offset = fh.tell()
        self._inode = st.st_ino
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" when the data ended with a newline
        out = []
        for raw in lines:
            if not raw.strip():
                continue
            ev = parse_line(raw)  # the one reader: JSON that is not a valid event counts as a bad line
            if ev is None:
                self.bad_lines += 1
            else:
                out.append(ev)
        return out, reset


class EventFeed(threading.Thread):
    """Follows one run folder until `stop()`; posts `FeedUpdated` to `target` when there is news."""

    def __init__(self, run_dir: Path, target: MessagePump, *, interval: float = 0.1, tail_bytes: int = TAIL_BYTES,
                 alive_every: float = 1.0) -> None:
        super().__init__(daemon=True, name=f"event-feed:{Path(run_dir).name}")
        self.run_dir = Path(run_dir)
        self.target = target
        self.interval = interval
        self.alive_every = alive_every
        self.follower = EventFollower(self.run_dir / "events.jsonl", tail_bytes)
        self._lock = threading.Lock()
        self._batch = FeedBatch()
        self._alive: bool | None = None
        self._pid: int | None = None
        self._halt = threading.Event()
        self._wake = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self._wake.set()

    def wake(self) -> None:
        """Look now (after starting or stopping the trainer) instead of at the next tick."""
        self._wake.set()

    def drain(self) -> FeedBatch:
        with self._lock:
            batch, self._batch = self._batch, FeedBatch(alive=self._alive)
        return batch

    def run(self) -> None:
        since_alive = self.alive_every
        while not self._halt.is_set():
            news = False
            try:
                events, reset = self.follower.poll()
            except OSError:
                events, reset = [], False
            if since_alive >= self.alive_every:
                pid = read_pid(self.run_dir)  # a new pid file after a resume wins over a remembered pid
                if pid is None:
                    pid = self._pid if pid_alive(self._pid) else trainer_pid(self.run_dir)
                self._pid = pid
                alive = pid_alive(pid)
                since_alive = 0.0
                if alive != self._alive:
                    self._alive, news = alive, True
            if events or reset or news:
                with self._lock:
                    if reset:
                        self._batch.events.clear()
                        self._batch.reset = True
                    self._batch.events.extend(events)
                    self._batch.alive = self._alive
                    self._batch.skipped_bytes = self.follower.skipped_bytes
                self.target.post_message(FeedUpdated(self.run_dir))
            woke = self._wake.wait(self.interval)
            if woke:
                self._wake.clear()
                since_alive = self.alive_every  # check the process now, too
            else:
                since_alive += self.interval
