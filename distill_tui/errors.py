"""Errors that carry a one-line, user-facing message naming the file and the reason."""

from __future__ import annotations

from pathlib import Path


class DistillError(Exception):
    """A failure the user can act on. `str(err)` is the one line shown after `error:`.

    `exit_code` 2 means bad input or usage, 1 anything else (design.md, command-line contract).
    """

    exit_code = 1

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class BadInputError(DistillError):
    """The input (a file, a flag) cannot be used."""

    exit_code = 2


class AudioError(BadInputError):
    """An audio file that cannot be read or used."""


class ModelFileError(BadInputError):
    """A model file that is missing, truncated, of another version, or not a model."""


class CodesFileError(BadInputError):
    """A codes document that fails validation."""


class OutputError(DistillError):
    """An output path that cannot be written."""
