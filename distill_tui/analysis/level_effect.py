"""What each level does to one sound, measured: how far its spectrum moves when the level is muted, and
when its codes are re-rolled.

The model-wide level gain (`analysis/health.py`) says how much a level lowers the training error on
average, which for a fine level is a fraction of a dB and read as "adds little". Muting a fine level moves
a sound about as little (0.1-1 dB on the demo and on a 44.1 kHz drum/pad model), but the row's codes can
move it far more: re-rolled, the same levels move the sound by several dB, and that is what a musician
typing into the row hears. So the editor shows both, per level: the log-spectral distance (model domain)
between the sound's decode and its decode with the level muted, and with the level's codes drawn at random,
each read on the one scale of words (`analysis/closeness.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the editor imports this module before torch has loaded; tensors come from the decoder
    import torch

FLOOR_DB = -80.0  # both spectra are floored here, as the model's own distance is (model/vqvae.frame_distance_db)

@dataclass(frozen=True)
class LevelEffect:
    """Level `level` (0-based) muted moves this sound's spectrum by `muted_db`, and re-rolled (every code
    drawn uniformly from the level's codebook, seeded) by `rerolled_db` (mean per-frame RMS dB each)."""

    level: int
    muted_db: float
    rerolled_db: float


def spectral_distance_db(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over frames of the RMS difference over bins of two (F, T) dB spectrograms, floored at FLOOR_DB."""
    d = a.clamp_min(FLOOR_DB) - b.clamp_min(FLOOR_DB)  # (F, T)
    return float(d.pow(2).mean(dim=0).sqrt().mean())


def level_effects(decode_db: Callable[[np.ndarray, Sequence[int]], torch.Tensor], codes: np.ndarray,
                  codebook_sizes: Sequence[int], muted: Sequence[int] = (), seed: int = 0) -> list[LevelEffect]:
    """Per level, how far muting it and re-rolling it move the decode of `codes` (Q, P). Levels already
    `muted` stay muted on every side, and their own effects are 0."""
    codes = np.asarray(codes)
    rng = np.random.default_rng(seed)
    base = decode_db(codes, tuple(muted))  # (F, T) relative dB
    out = []
    for q in range(codes.shape[0]):
        if q in muted:
            out.append(LevelEffect(q, 0.0, 0.0))
            continue
        rolled = codes.copy()
        rolled[q] = rng.integers(0, codebook_sizes[q], size=codes.shape[1])
        out.append(LevelEffect(q, spectral_distance_db(base, decode_db(codes, (*muted, q))),
                               spectral_distance_db(base, decode_db(rolled, tuple(muted)))))
    return out
