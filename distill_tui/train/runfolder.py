"""The run folder as a place: made (and, after a failed setup, removed), locked while a trainer uses it, swept.

The lock is `fcntl.flock` on `run.lock`, which holds the trainer's PID. The kernel drops the lock
when its process dies, however it dies: a dead holder's lock is simply taken over. `lock_holder` tells
another process (the TUI) which PID holds it, only while the lock is really held.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import IO

from ..errors import BadInputError, OutputError
from ..fileio import reason_of

CHECKPOINT = "checkpoint.safetensors"  # train/checkpoint.py's file; named here, where no torch is imported
# What earlier versions of Distill left in a run folder: stage 1's model-file checkpoint, the prior's own format.
OLD_CHECKPOINTS = ("checkpoint.distill", "prior-checkpoint.safetensors")

LOCK_FILE = "run.lock"
# Temporary files a killed write leaves: fileio's `.NAME.*.tmp`, and the prior checkpoint writer of older versions.
STALE_PATTERNS = (".*.tmp", ".prior-checkpoint.safetensors.*")


class RunFolder:
    """Open with `open()`, close with `close()`; `created` says whether this call made the folder."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.created = False
        self._lock: IO[str] | None = None

    def open(self) -> None:
        """Make the folder (when missing), take its lock, remove temporary files a killed write left."""
        try:
            if self.path.exists() and not self.path.is_dir():
                raise BadInputError("the run folder is a file: pass --run DIR", self.path)
            self.created = not self.path.exists()
            self.path.mkdir(parents=True, exist_ok=True)
            fh = (self.path / LOCK_FILE).open("a+", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write the run folder ({reason_of(exc)})", self.path) from exc
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            fh.close()
            raise BadInputError(f"another trainer (PID {holder}) is training in this run folder: wait for it to "
                                "finish, stop it, or pass --run DIR", self.path) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._lock = fh
        remove_stale_temps(self.path)

    def close(self, remove: bool = False) -> None:
        """Release the lock; `remove`: delete the folder (only ever one this call created)."""
        remove_stale_temps(self.path)
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None
        if remove and self.created:
            shutil.rmtree(self.path, ignore_errors=True)


def lock_holder(run_dir: Path) -> int | None:
    """The PID of the trainer holding the run folder's lock; None when the lock is free (a PID left in the
    file by a trainer that died is stale and never returned), missing or unreadable.

    The test takes a shared lock without waiting and releases it at once: it fails only while a trainer holds
    its exclusive lock (a trainer starting in that same instant is refused as if another one held it). Where
    /proc shows it (Linux), the PID must also have `run.lock` open: a holder that took the lock but has not yet
    written its own PID over the last holder's is not mistaken for that one."""
    path = Path(run_dir) / LOCK_FILE
    try:
        with path.open("r", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pid_text = fh.read().split()
            else:
                return None  # nobody holds it (closing the file releases our shared lock)
    except OSError:
        return None
    try:
        pid = int(pid_text[0])
    except (IndexError, ValueError):
        return None  # held, but the holder has not written its PID yet
    return pid if pid > 0 and _has_open(pid, path) else None


def _has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` has `path` open; True where /proc cannot say (not Linux, another user's process)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fds.iterdir())
    except FileNotFoundError:
        return not Path("/proc/self/fd").is_dir()  # on Linux: no such process; elsewhere: trust the lock
    except OSError:
        return True  # not ours to look into
    target = str(path.resolve())
    for fd in entries:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:
            continue  # closed meanwhile
    return False


def remove_stale_temps(run_dir: Path) -> list[Path]:
    """Delete temporary files left by a killed write; returns what was removed."""
    gone = []
    for pattern in STALE_PATTERNS:
        for p in run_dir.glob(pattern):
            try:
                p.unlink()
                gone.append(p)
            except OSError:
                pass
    return gone


def check_writable_folder(target: Path, what: str) -> None:
    """Before training: the folder `target` goes in (or its nearest existing parent) must be writable."""
    folder = target.parent if str(target.parent) else Path(".")
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise BadInputError(f"cannot write the {what} here: {probe} is not a folder", target)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadInputError(f"cannot write the {what} here: {probe} is not writable (choose another place)", target)


def check_same_sounds(run_dir: Path, trained_on: str | None, asked: Path | None) -> None:
    """A run folder resumes (or writes again) only on the folder of sounds it trained on: refuse another
    (`BadInputError`). `asked` None: the command named no folder, so the run's own is meant.

    `train-prior MODEL OTHER_FOLDER` found the finished run beside the model and wrote its old prior again."""
    if trained_on and asked is not None and Path(trained_on).resolve() != Path(asked).resolve():
        raise BadInputError(f"this run folder trains on {trained_on}, not {asked}; delete it or pass --run DIR "
                            "to start another", run_dir)
