"""A run folder: `run.json` (what was asked), an append-only `events.jsonl`, and atomic checkpoints.

Each line of `events.jsonl` is one JSON object with "event" (start, resume, step, eval, health,
checkpoint, warning, stopped, done, error), "time" (unix seconds) and, where it applies, "step".
Readers tolerate a half-written last line (a killed writer) and skip lines that are not JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import DistillError, OutputError


class EventLog:
    """Append events to `events.jsonl`; each write is one line, flushed at once."""

    def __init__(self, run_dir: Path, echo=None) -> None:
        self.path = Path(run_dir) / "events.jsonl"
        self.echo = echo  # optional callback(event dict), e.g. for the terminal display
        self._fh = None

    def _file(self):
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            needs_newline = self.path.exists() and self.path.stat().st_size > 0 and not _ends_with_newline(self.path)
            self._fh = self.path.open("a", encoding="utf-8")
            if needs_newline:  # a killed writer left half a line: close it so ours parses
                self._fh.write("\n")
        return self._fh

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"event": event, "time": round(time.time(), 3), **fields}
        try:
            fh = self._file()
            fh.write(json.dumps(record, default=_jsonable) + "\n")
            fh.flush()
        except OSError as exc:
            if event == "error":
                pass  # nothing more can be done; the error still reaches stderr
            else:
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


def read_events(path: str | Path) -> Iterator[dict[str, Any]]:
    """Every well-formed event in order; broken or partial lines are skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / "events.jsonl"
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # a line still being written (or cut off by a kill)
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and "event" in record:
                yield record


def tail_events(path: str | Path, max_bytes: int = 1 << 20) -> list[dict[str, Any]]:
    """The events in the last `max_bytes` of the log: attaching to a long run without reading it all."""
    path = Path(path)
    if path.is_dir():
        path = path / "events.jsonl"
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except FileNotFoundError:
        return []
    if size > max_bytes:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    out = []
    for raw in data.split(b"\n")[:-1]:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict) and "event" in record:
            out.append(record)
    return out


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=1, default=_jsonable))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write ({exc.strerror})", path) from exc


@contextmanager
def errors_logged(run_dir: Path) -> Iterator[None]:
    """Record any exception that escapes a training run as an "error" event, then let it propagate."""
    try:
        yield
    except DistillError as exc:
        EventLog(run_dir).emit("error", message=str(exc))
        raise
    except Exception as exc:
        EventLog(run_dir).emit("error", message=f"{type(exc).__name__}: {exc}")
        raise
