"""`report_failures`: the one place where an exception in a worker becomes a failure message for the user.

A thread worker that raised would end the app (Textual's `exit_on_error`); a worker that swallowed the
error would leave the user waiting. Decorated jobs do neither: the exception becomes one message posted
to the job's owner (which notifies), and the job returns None.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from textual.message import Message

from ..errors import DistillError
from .messages import WorkFailed

T = TypeVar("T")


class Poster(Protocol):
    """What a job's owner must offer: a thread-safe `post_message` (every Textual widget and screen does)."""

    def post_message(self, message: Message) -> bool: ...


def report_failures(what: str, *, known: str = "{error}", unexpected: str = "{kind}: {exc}",
                    failed: Callable[[str, str], Message] = WorkFailed
                    ) -> Callable[[Callable[..., T]], Callable[..., T | None]]:
    """Decorate a method whose owner is a `Poster`: an exception it raises is posted as `failed(what, reason)`.

    `what`, `known` and `unexpected` are `str.format` templates over the method's arguments by name. The
    reason of a `DistillError` is `known` (`{error}` is its one line with the path, `{reason}` the line
    without it); of any other exception it is `unexpected` (`{kind}` is the exception's class name,
    `{exc}` its text). The decorated method returns None after a failure.
    """

    def decorate(fn: Callable[..., T]) -> Callable[..., T | None]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(owner: Poster, *args: Any, **kwargs: Any) -> T | None:
            try:
                return fn(owner, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a message; the app keeps running
                bound = signature.bind(owner, *args, **kwargs)
                bound.apply_defaults()
                names = {k: v for k, v in bound.arguments.items() if k != "self"}
                if isinstance(exc, DistillError):
                    reason = known.format(**names, error=str(exc), reason=exc.reason)
                else:
                    reason = unexpected.format(**names, kind=type(exc).__name__, exc=exc)
                owner.post_message(failed(what.format(**names), reason))
                return None

        return run

    return decorate
