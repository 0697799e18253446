"""The sliding windows the causal prior reads: generation and scoring share them, so scores see what samples see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the prior imports this module
    from .prior import PriorConfig


@dataclass
class Window:
    """One window of one sequence: slots [i0, i1) are read, slots [s0, s1) are scored."""

    seq: int
    w0: int  # first time position of the window
    i0: int
    i1: int
    s0: int
    s1: int


def scoring_windows(cfg: PriorConfig, n_slots: int, seq: int = 0, lo: int = 0, hi: int | None = None) -> list[Window]:
    """The windows generation uses, so scores and samples see the same context.

    The first window covers times [0, context) and scores all of them; window k >= 1 starts at
    k * hop and scores only its last hop positions, which therefore have at least context - hop
    positions of past. Only windows that score a slot in [lo, hi) are returned.
    """
    q, ctx, hop = cfg.levels, cfg.context, cfg.hop
    hi = n_slots if hi is None else min(hi, n_slots)
    out = []
    k = 0
    while True:
        w0 = k * hop
        t_lo = 0 if k == 0 else w0 + ctx - hop
        if t_lo * q >= hi:
            break
        s0, s1 = max(t_lo * q, lo), min((w0 + ctx) * q, hi)
        if s1 > s0:
            out.append(Window(seq, w0, w0 * q, min((w0 + ctx) * q, n_slots), s0, s1))
        k += 1
    return out


def window_for_time(cfg: PriorConfig, t: int) -> int:
    """The start of the scoring window in which time position t is scored (and generated)."""
    if t < cfg.context:
        return 0
    return (t - (cfg.context - cfg.hop)) // cfg.hop * cfg.hop
