"""Torch's CPU thread count, set for a block and restored after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


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
