"""Ctrl-C and SIGTERM during training: note the request, let the loop save a checkpoint and stop."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_signals(on_signal: Callable[[str], None]) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM call `on_signal(name)` instead of stopping the process.

    Outside the main thread (where handlers cannot be installed) this does nothing.
    """
    old = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old.append((sig, signal.signal(sig, lambda signum, _frame: on_signal(signal.Signals(signum).name))))
        except ValueError:  # not the main thread
            pass
    try:
        yield
    finally:
        for sig, handler in old:
            signal.signal(sig, handler)
