"""Errors that carry a one-line, user-facing message naming the file and the reason."""

from __future__ import annotations

import os
from pathlib import Path


def printable(path: str | os.PathLike[str] | os.PathLike[bytes] | bytes) -> str:
    """A file name fit to print or store in JSON: bytes that are not UTF-8 become `\\xff` escapes.

    Python keeps such bytes of a name as lone surrogates, which `print`, `json.dumps(ensure_ascii=False)`
    and every C library that wants UTF-8 refuse; `os.fsencode` gives the bytes back, and they are shown
    as escapes instead of crashing. Use the real path (not this text) to open the file.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class DistillError(Exception):
    """A failure the user can act on. `str(err)` is the one line shown after `error:`.

    `exit_code` 2 means bad input or usage, 1 anything else (docs/architecture.md, "Command-line contract"). `path` is kept
    in printable form (see `printable`), so the message can always be written.
    """

    exit_code = 1

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else printable(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class BadInputError(DistillError):
    """The input (a file, a flag) cannot be used."""

    exit_code = 2


class AudioError(BadInputError):
    """An audio file that cannot be read or used."""


class ModelFileError(BadInputError):
    """A model file that is missing, truncated, of another version, or not a model."""


class NoPriorError(BadInputError):
    """A model file without a prior yet (`train-prior` makes one): nothing is wrong with it."""


class CodesFileError(BadInputError):
    """A codes document that fails validation."""


class OutputError(DistillError):
    """An output path that cannot be written."""
