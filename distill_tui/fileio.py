"""Atomic file writes: the one way Distill writes a file a user keeps.

Every write goes to a temporary file in the target's folder, is flushed to disk, gets the permissions a
new file would get (`0o666` less the umask, or the old file's mode when it replaces one), and is renamed
over the target. A failure at any point (a full disk, an unwritable folder, a killed process before the
rename) leaves the old file as it was and removes the temporary file.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def new_file_mode(path: Path) -> int:
    """The mode `path` should have: the old file's, or what `open()` would give a new file under the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def reason_of(exc: BaseException) -> str:
    """A short reason for an I/O failure: the OS's words where there are some, else the first line."""
    strerror = getattr(exc, "strerror", None)
    if strerror:
        return strerror
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if "No space left on device" in line:
        return "No space left on device"
    return line[:160]


def make_folder(folder: Path, what: str) -> None:
    """Make `folder` (and the folders above it) if it is not there; `OutputError` naming it when it cannot be."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make the folder for the {what} here ({reason_of(exc)})", folder) from exc


def check_folder_can_be_made(folder: Path, what: str) -> None:
    """`OutputError` naming `folder` when it is not there and cannot be made (a path under /proc, a read-only
    disk, no permission), found before any work is done; the folders made to find out are removed again,
    so a command refused later leaves nothing behind."""
    made: list[Path] = []
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        made.append(probe)
        probe = probe.parent
    try:
        make_folder(folder, what)
    finally:
        for path in made:  # the deepest first
            try:
                path.rmdir()
            except OSError:
                break


@contextmanager
def atomic_path(path: str | Path, what: str = "file", suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on a clean exit it replaces `path`, on any error it is removed.

    For writers that want a file name (safetensors, soundfile). Raises `OutputError` naming `path` and
    the reason; whatever was at `path` before is left untouched.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # os.replace would put a file where /dev/null or a pipe was
        raise OutputError(f"is not a regular file (a folder, device or pipe): cannot write the {what} there", path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():  # a typo in a folder name: say which folder, not "No such file or directory"
        there = "is not a folder" if directory.exists() else "does not exist"
        raise OutputError(f"cannot write the {what} here: {directory} {there}", path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write the {what} here ({reason_of(exc)})", path) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, new_file_mode(path))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OutputError) or not isinstance(exc, Exception):
            raise
        # Any library's write error (OSError, RuntimeError, safetensors' SafetensorError, libsndfile's ...)
        raise OutputError(f"could not write the {what} ({reason_of(exc)}); the previous file is unchanged", path) from exc


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any], what: str = "file") -> Path:
    """Write through `write(fh)` on a binary file handle, atomically (see `atomic_path`)."""
    path = Path(path)
    with atomic_path(path, what) as tmp, open(tmp, "wb") as fh:
        write(fh)
    return path


def atomic_write_bytes(path: str | Path, data: bytes, what: str = "file") -> Path:
    return atomic_write(path, lambda fh: fh.write(data), what)


def atomic_write_text(path: str | Path, text: str, what: str = "file") -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), what)


def atomic_write_json(path: str | Path, obj: Any, what: str = "file", **dumps: Any) -> Path:
    """JSON with non-finite floats refused (NaN is not JSON); `dumps` goes to `json.dumps`."""
    try:
        text = json.dumps(obj, allow_nan=False, **dumps)
    except ValueError as exc:
        raise OutputError(f"cannot write the {what}: {exc}", path) from exc
    return atomic_write_text(path, text, what)
