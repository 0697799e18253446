"""A run folder's event log: `events.jsonl`, one JSON object a line, typed on the way in and on the way out.

Every line has "event" (one of `KINDS`), "time" (unix seconds) and, where it applies, "step"; the
other keys depend on the kind and on the stage (a stage-1 "step" carries `recon_db`, a prior's does
not). The on-disk keys are a contract with older readers: they are written exactly as given.

One writer (`EventLog.emit`) refuses kinds not listed here; one reader (`parse_event`, used by
`read_events`, `tail_events` and the TUI's follower) keeps only records that validate. Readers
tolerate a half-written last line (a killed writer) and skip lines that are not JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError


@dataclass(frozen=True)
class EventKind:
    """What a kind of event means and which keys a record of it must have (besides "event" and "time")."""

    name: str
    meaning: str
    needs_step: bool = False  # "step" must be an int
    required: tuple[str, ...] = ()


KINDS: dict[str, EventKind] = {k.name: k for k in (
    EventKind("start", "a new run: the data, the model, the configs"),
    EventKind("resume", "training continues from the run folder's checkpoint", needs_step=True),
    EventKind("rate", "the sample rate a fresh run trains at, and why (stage 1)", needs_step=True, required=("message",)),
    EventKind("width", "the network's width a fresh run with a time budget trains at, and why (stage 1; `width.py`)",
              needs_step=True, required=("channels", "message")),
    EventKind("threads", "stage 1 now trains on this many CPU threads, and why (`governor.py`)", needs_step=True,
              required=("threads", "message")),
    EventKind("ready", "setup is over, the first training step comes next", needs_step=True),
    EventKind("step", "training progress (at most one a second, plus step 1)", needs_step=True),
    EventKind("eval", "a validation (dB for stage 1, perplexity for the prior)", needs_step=True),
    EventKind("fold", "one cross-validation fold of the prior: held-out sounds and perplexities", needs_step=True),
    EventKind("folds", "the prior's k-fold decision: network or bigram, at which step", needs_step=True),
    EventKind("health", "per-level codebook health over the training sounds (stage 1)", needs_step=True),
    EventKind("codebook", "unused codes re-pointed at the end of stage 1", needs_step=True),
    EventKind("checkpoint", "a checkpoint was written", needs_step=True, required=("path",)),
    EventKind("warning", "something the user should know, in words", required=("message",)),
    EventKind("stopped", "stopped by a signal; the checkpoint is saved", needs_step=True),
    EventKind("done", "the model file is written", needs_step=True),
    EventKind("error", "the run failed; the message says why", required=("message",)),
)}
TERMINAL = frozenset({"done", "stopped", "error"})
BEGIN = frozenset({"start", "resume"})


@dataclass(frozen=True, eq=False)
class Event(Mapping[str, Any]):
    """One validated record. Reads like the JSON object it was (`ev["loss"]`, `ev.get("step")`)."""

    event: str
    time: float
    step: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # the kind's own keys, as on disk

    def as_dict(self) -> dict[str, Any]:
        """The record as written: "event", "time", "step" (when it has one), then its own keys."""
        out: dict[str, Any] = {"event": self.event, "time": self.time}
        if self.step is not None or "step" in self.fields:
            out["step"] = self.step
        out.update({k: v for k, v in self.fields.items() if k != "step"})
        return out

    def __getitem__(self, key: str) -> Any:
        if key == "event":
            return self.event
        if key == "time":
            return self.time
        if key == "step" and (self.step is not None or "step" in self.fields):
            return self.step
        return self.fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self.as_dict() == dict(other)

    __hash__ = None  # type: ignore[assignment]


class BadEvent(ValueError):
    """A record that is JSON but not an event of a known kind with the keys that kind needs."""


def parse_event(obj: Any) -> Event:
    """Validate a decoded JSON value as an event; raises `BadEvent` saying what is wrong."""
    if not isinstance(obj, dict):
        raise BadEvent("not a JSON object")
    kind = KINDS.get(obj.get("event"))  # type: ignore[arg-type]
    if kind is None:
        raise BadEvent(f"unknown event {obj.get('event')!r}")
    t = obj.get("time")
    if isinstance(t, bool) or not isinstance(t, int | float):
        raise BadEvent(f"{kind.name}: no time")
    step = obj.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise BadEvent(f"{kind.name}: step is not a whole number")
    if kind.needs_step and step is None:
        raise BadEvent(f"{kind.name}: no step")
    missing = [k for k in kind.required if k not in obj]
    if missing:
        raise BadEvent(f"{kind.name}: no {', '.join(missing)}")
    rest = {k: v for k, v in obj.items() if k not in ("event", "time")}
    if "step" in rest and rest["step"] is None:
        rest.pop("step")
        return Event(kind.name, float(t), None, {"step": None, **rest})
    rest.pop("step", None)
    return Event(kind.name, float(t), step, rest)


def parse_line(raw: bytes | str) -> Event | None:
    """One line of the log as an event, or None when it is not JSON or not a valid event."""
    try:
        return parse_event(json.loads(raw))
    except (ValueError, RecursionError):  # BadEvent is a ValueError
        return None


class EventLog:
    """The one writer of `events.jsonl`: each event is one line, flushed at once."""

    def __init__(self, run_dir: Path, echo: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path = Path(run_dir) / "events.jsonl"
        self.echo = echo  # optional callback(event dict), e.g. for the terminal display
        self._fh: IO[str] | None = None

    def _file(self) -> IO[str]:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            needs_newline = self.path.exists() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
            self._fh = self.path.open("a", encoding="utf-8")
            if needs_newline:  # a killed writer left half a line: close it so ours parses
                self._fh.write("\n")
        return self._fh

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one event (kind `event`, the current time, `fields` as given); returns the record written."""
        record = {"event": event, "time": round(time.time(), 3), **fields}
        line = json.dumps(record, default=_jsonable)
        parse_event(json.loads(line))  # the writer keeps the reader's rules: a bad record is a bug, said at once
        try:
            fh = self._file()
            fh.write(line + "\n")
            fh.flush()
        except OSError as exc:
            if event != "error":  # an error event that cannot be written still reaches stderr
                raise OutputError(f"cannot append to the event log ({exc.strerror})", self.path) from exc
        if self.echo:
            self.echo(record)
        return record

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    return str(obj)


def _log_path(path: str | Path) -> Path:
    path = Path(path)
    return path / "events.jsonl" if path.is_dir() else path


def read_events(path: str | Path) -> Iterator[Event]:
    """Every valid event in order (a run folder or its log); broken, partial or unknown lines are skipped."""
    try:
        fh = _log_path(path).open("rb")
    except FileNotFoundError:
        return
    with fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # a line still being written (or cut off by a kill)
            ev = parse_line(raw)
            if ev is not None:
                yield ev


def tail_events(path: str | Path, max_bytes: int = 1 << 20) -> list[Event]:
    """The valid events in the last `max_bytes` of the log: attaching to a long run without reading it all."""
    path = _log_path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except FileNotFoundError:
        return []
    if size > max_bytes:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return [ev for raw in data.split(b"\n")[:-1] if (ev := parse_line(raw)) is not None]
