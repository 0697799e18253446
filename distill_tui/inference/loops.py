"""Seamless loops: choose among the prior's loop candidates by their seam, and decode a grid as a loop.

A grid decoded on its own has edges: the decoder sees nothing before its first position or after its
last, so played round, its wrap jumps even where the codes flow. Decoded as a loop, the grid is laid
three times end to end, the middle copy's spectrum is kept (its last frame is followed by its own
first), and its audio is the middle copy of the tiled Griffin-Lim, its first `n_fft` samples
cross-faded from what followed the copy's end, so the wrap is continuous sample by sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.generation import LoopSeam, loop_seam
from .codec import Codec
from .generate import Prior
from .sampling import SamplingSettings

CHOICES = ("seam", "prior")
DEFAULT_CANDIDATES = 16  # on the demo, 16 candidates brought the median seam from 1.0 to 0.9 of a step (8 loops)


@dataclass
class Loop:
    codes: np.ndarray  # (levels, positions)
    seam: LoopSeam  # on the decoder's spectrum, decoded as a loop
    prior_choice_seam: LoopSeam  # the seam of the candidate the prior alone would have chosen
    candidates: int
    chosen_by: str  # "seam" (the smoothest wrap on the decoder's spectrum) or "prior" (the likeliest wrap)


def loop_spectrum(codec: Codec, codes: np.ndarray) -> np.ndarray:
    """The decoder's spectrum (F, positions * stride) of `codes` played round: the middle of three copies."""
    frames = codes.shape[1] * codec.cfg.stride
    db = codec.decode_db(np.concatenate([codes, codes, codes], axis=1)).cpu().numpy()  # (F, 3 * frames)
    return db[:, frames : 2 * frames]


def loop_audio(codec: Codec, codes: np.ndarray, ref_db: float | None = None, gain_db: float = 0.0) -> np.ndarray:
    """Audio (positions * stride * hop,) of `codes` that plays round without a click (see the module's doc)."""
    frames = codes.shape[1] * codec.cfg.stride
    n = frames * codec.spec.hop_length
    db = codec.decode_db(np.concatenate([codes, codes, codes], axis=1))  # (F, 3 * frames)
    full, _ = codec.db_to_audio(db, ref_db, gain_db)  # ((3 * frames - 1) * hop,)
    out = full[n : 2 * n].copy()
    fade = min(codec.spec.n_fft, n, len(full) - 2 * n)
    if fade > 0:
        w = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)  # (fade,) rising from 0 to 1
        out[:fade] = out[:fade] * w + full[2 * n : 2 * n + fade] * (1 - w)
    return out.astype(np.float32)


def make_loop(prior: Prior, codec: Codec, positions: int, settings: SamplingSettings, *, candidates: int = DEFAULT_CANDIDATES,
              choose: str = "seam", seam_positions: int | None = None) -> Loop:
    """A loop of `positions`: the prior's candidates, the one with the smoothest wrap (or the prior's likeliest)."""
    if choose not in CHOICES:
        raise ValueError(f"choose must be one of {CHOICES}")
    found = prior.loop_candidates(positions, settings, seam_positions=seam_positions, candidates=candidates)
    seams = [loop_seam(loop_spectrum(codec, c.codes)) for c in found]
    best = min(range(len(found)), key=lambda i: seams[i].ratio) if choose == "seam" else 0
    return Loop(found[best].codes, seams[best], seams[0], len(found), choose)
