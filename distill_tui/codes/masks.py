"""Periodic masks for regenerating part of a region: every n-th position, or every other beat.

A mask is a bool array (levels, positions), True where the prior samples anew and False where the
grid is kept (`Prior.regenerate_masked`). Kept cells between regenerated ones hold the rhythm in
place while the regenerated ones vary (VampNet's periodic and beat masks). No torch here.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import BadInputError


def _check_region(levels: list[int], n_levels: int, positions: int, start: int, end: int) -> None:
    if not 0 <= start < end <= positions:
        raise BadInputError(f"region {start}:{end} must satisfy 0 <= START < END <= {positions}")
    if not levels or any(not 0 <= lv < n_levels for lv in levels):
        raise BadInputError(f"levels must be between 1 and {n_levels}")


def region_mask(n_levels: int, positions: int, start: int, end: int, levels: list[int] | None = None) -> np.ndarray:
    """The whole region [start, end) of `levels` (0-based; None = all): (levels, positions) bool."""
    chosen = list(range(n_levels)) if levels is None else sorted(set(levels))
    _check_region(chosen, n_levels, positions, start, end)
    mask = np.zeros((n_levels, positions), dtype=bool)
    mask[np.ix_(chosen, np.arange(start, end))] = True
    return mask


def every_nth(n_levels: int, positions: int, start: int, end: int, every: int, *, offset: int = 0,
              levels: list[int] | None = None) -> np.ndarray:
    """Every `every`-th position of the region, from `start + offset`: (levels, positions) bool."""
    if every < 1:
        raise BadInputError(f"--every must be at least 1, got {every}")
    mask = region_mask(n_levels, positions, start, end, levels)
    cols = np.arange(positions)
    mask &= ((cols - start - offset) % every == 0)[None]
    if not mask.any():
        raise BadInputError(f"--every {every} leaves no position of the region {start}:{end} to regenerate")
    return mask


def beat_mask(n_levels: int, positions: int, start: int, end: int, bpm: float, seconds_per_position: float, *,
              beat: int = 1, levels: list[int] | None = None, origin: int | None = None) -> np.ndarray:
    """Every other beat of the region at `bpm`, counting beats from position `origin` (None: `start`):
    (levels, positions) bool.

    Beat k spans [k * 60 / bpm, (k + 1) * 60 / bpm) seconds after the origin; a position belongs to the
    beat in which it starts. `beat` 1 regenerates the off-beats (1, 3, 5, ...; the first beat, 0, is
    kept), 0 the on-beats. A beat shorter than a position cannot be told apart. The editor counts from the
    sound's start (origin 0), so a selection's off-beats are the sound's.
    """
    if not (math.isfinite(bpm) and bpm > 0):
        raise BadInputError(f"--bpm must be a positive number, got {bpm}")
    beat_s = 60.0 / bpm
    if beat_s < seconds_per_position:
        raise BadInputError(f"--bpm {bpm:g}: a beat ({beat_s * 1000:.0f} ms) is shorter than one position "
                            f"({seconds_per_position * 1000:.0f} ms)")
    mask = region_mask(n_levels, positions, start, end, levels)
    t = (np.arange(positions) - (start if origin is None else origin)) * seconds_per_position  # (positions,) s
    which = np.floor(t / beat_s + 1e-9).astype(np.int64) % 2 == beat % 2
    mask &= which[None]
    if not mask.any():
        if origin is None or origin == start:
            raise BadInputError(f"the region {start}:{end} is shorter than two beats at {bpm:g} BPM: nothing to regenerate")
        raise BadInputError(f"positions {start}:{end} hold no {'off' if beat % 2 else 'on'}-beat at {bpm:g} BPM: "
                            "nothing to regenerate")
    return mask
