"""Torch's CPU threads: how OpenMP's idle threads wait in this process, and the count for a block of work."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# How OpenMP's idle threads wait, by what the process does (libgomp, which torch's Linux wheels load, reads these
# once, when torch is imported). "interactive" (the editor, and any use as a library): passive, the threads sleep
# at once. Spinning threads made a 4 s decode beside a running trainer take 2.6-6.9 s in its first calls, against
# 0.11-0.22 s (docs/architecture.md, decision 18). "training": a short spin (10,000 turns, well under a
# millisecond) before sleeping. Passive waiting wakes the second thread hundreds of times a training step, so a
# 2-thread step took 0.15 s where a short spin takes 0.095 s, on less CPU (decision 34).
WAITING = {"interactive": {"OMP_WAIT_POLICY": "PASSIVE"}, "training": {"GOMP_SPINCOUNT": "10000"}}
_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_ours: set[str] = set()  # the variables this module set (a user's own setting is never changed or added to)


def openmp_waiting(role: str) -> bool:
    """Set how OpenMP's idle threads wait for `role` ("interactive" or "training"), unless the user set it.
    Only before torch is imported; returns whether it could still be set."""
    if "torch" in sys.modules:
        return False
    for key in _ours:
        os.environ.pop(key, None)
    _ours.clear()
    if any(key in os.environ for key in _KEYS):  # the user chose how to wait: libgomp lets GOMP_SPINCOUNT
        return True  # override OMP_WAIT_POLICY, so adding either of ours would undo their choice
    for key, value in WAITING[role].items():
        os.environ[key] = value
        _ours.add(key)
    return True


def child_environment() -> dict[str, str]:
    """This process's environment without the OpenMP settings `openmp_waiting` made, for a child process (a
    trainer the editor starts) that chooses its own; a user's own settings pass on."""
    return {k: v for k, v in os.environ.items() if k not in _ours}


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with `n` torch CPU threads (None or 0: leave torch's setting), then restore it.

    Why it exists: on a shared 2-core box, small tensor products on two threads spend their time
    spin-waiting for a busy core (measured: a blend of 8 x 1000 codes took 200-2000 ms on two threads,
    4 ms on one; a 4 s decode 5-30x slower; a prior step 1-10x slower). Torch is imported here, lazily.
    """
    if not n:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
