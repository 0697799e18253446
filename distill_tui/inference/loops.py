"""Seamless loops: choose among the prior's loop candidates by their seam, and decode a grid as a loop.

A grid decoded on its own has edges: the decoder sees nothing before its first position or after its
last, so played round, its wrap jumps even where the codes flow. Decoded as a loop, the grid is laid
end to end with itself (a whole copy on each side by default; `pad` positions of wrap-around context
with `loop_cycle`, which the editor and export use), the middle copy's spectrum is kept (its last frame
is followed by its own first), and its audio is the middle copy of the tiled Griffin-Lim, its first
`n_fft` samples cross-faded from what followed the copy's end, so the wrap is continuous sample by sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis.generation import LoopSeam, audio_loop_seam, loop_seam
from ..codes.grid import CodeGrid
from .codec import Codec, decoder_context
from .generate import Prior
from .sampling import SamplingSettings

CHOICES = ("seam", "prior")
DEFAULT_CANDIDATES = 16  # on the demo, 16 candidates brought the median seam from 1.0 to 0.9 of a step (8 loops)
# The candidates with the smoothest wraps on the decoder's spectrum that are then decoded to audio and heard: the
# audio's wrap decides between them. On the demo's loops (2 s, 2 x 16 seeds) the audio seam's median fell from
# 0.97-0.99 of a step to 0.86-0.91 with 2; 4 or 8 finalists did no better and cost one decode each.
FINALISTS = 2


@dataclass
class Loop:
    codes: np.ndarray  # (levels, positions)
    seam: LoopSeam  # on the decoder's spectrum, decoded as a loop
    prior_choice_seam: LoopSeam  # the seam of the candidate the prior alone would have chosen
    candidates: int
    chosen_by: str  # "seam" (the smoothest wrap heard among the smoothest on the decoder's spectrum) or "prior"
    audio_seam: LoopSeam | None = None  # with "seam": the chosen loop's wrap in its audio (`audio_loop_seam`)


def wrapped(codes: np.ndarray, pad: int) -> np.ndarray:
    """codes (Q, P) -> (Q, pad + P + pad): the grid with `pad` positions of itself on each side, wrapping round
    (as many times as it takes when `pad` > P)."""
    positions = codes.shape[1]
    return codes[:, np.arange(-pad, positions + pad) % positions]


def loop_spectrum(codec: Codec, codes: np.ndarray, pad: int | None = None) -> np.ndarray:
    """The decoder's spectrum (F, positions * stride) of `codes` played round: the middle of the wrapped grid."""
    pad = codes.shape[1] if pad is None else pad
    frames, skip = codes.shape[1] * codec.cfg.stride, pad * codec.cfg.stride
    db = codec.decode_db(wrapped(codes, pad)).cpu().numpy()  # (F, (2 * pad + P) * stride)
    return db[:, skip : skip + frames]


def loop_audio(codec: Codec, codes: np.ndarray, ref_db: float | None = None, gain_db: float = 0.0, *,
               muted: tuple[int, ...] | list[int] = (), pad: int | None = None) -> np.ndarray:
    """Audio (positions * stride * hop,) of `codes` that plays round without a click (see the module's doc).

    `pad` positions of wrap-around context on each side (default: a whole copy); `muted` levels (0-based) are
    left out, as in `Codec.decode_db`."""
    pad = codes.shape[1] if pad is None else pad
    hop = codec.spec.hop_length
    n = codes.shape[1] * codec.cfg.stride * hop
    start = pad * codec.cfg.stride * hop
    db = codec.decode_db(wrapped(codes, pad), muted)  # (F, (2 * pad + P) * stride)
    full, _ = codec.db_to_audio(db, ref_db, gain_db)  # (((2 * pad + P) * stride - 1) * hop,)
    out = full[start : start + n].copy()
    fade = min(codec.spec.n_fft, n, len(full) - start - n)
    if fade > 0:
        w = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)  # (fade,) rising from 0 to 1
        out[:fade] = out[:fade] * w + full[start + n : start + n + fade] * (1 - w)
    return out.astype(np.float32)


def loop_pad(codec: Codec) -> int:
    """Positions of wrap-around context enough for a loop's cycle to be what a whole copy on each side gives:
    the decoder's reach (`decoder_context`), plus Griffin-Lim's window, the cross-fade and a margin (2 n_fft + 4
    frames: as the partial re-decode's margin, `inference.audition`)."""
    frames = 2 * codec.spec.n_fft / codec.spec.hop_length + 4
    return decoder_context(codec.cfg) + int(np.ceil(frames / codec.cfg.stride))


def loop_cycle(codec: Codec, grid: CodeGrid, muted: tuple[int, ...] | list[int] = ()) -> np.ndarray:
    """One cycle (positions * stride * hop,) float32 of `grid` decoded as a loop, at its source's level: what the
    editor plays round in loop playback and what exporting a loop writes. Its cost grows with the grid plus
    `2 * loop_pad` positions, not three times the grid."""
    grid.check_model(codec.fingerprint, codec.codebook_sizes)
    src = grid.source or {}
    return loop_audio(codec, grid.codes, src.get("ref_db"), float(src.get("gain_db", 0.0)), muted=tuple(muted),
                      pad=loop_pad(codec))


def make_loop(prior: Prior, codec: Codec, positions: int, settings: SamplingSettings, *, candidates: int = DEFAULT_CANDIDATES,
              choose: str = "seam", seam_positions: int | None = None, finalists: int = FINALISTS) -> Loop:
    """A loop of `positions` among the prior's candidates: with "seam", the `finalists` whose wraps jump least on
    the decoder's spectrum are decoded as loops (`loop_cycle`'s audio) and the one whose wrap jumps least in its
    audio is kept; with "prior", the prior's likeliest ending."""
    if choose not in CHOICES:
        raise ValueError(f"choose must be one of {CHOICES}")
    found = prior.loop_candidates(positions, settings, seam_positions=seam_positions, candidates=candidates)
    seams = [loop_seam(loop_spectrum(codec, c.codes)) for c in found]
    if choose == "prior":
        return Loop(found[0].codes, seams[0], seams[0], len(found), choose)
    smoothest = sorted(range(len(found)), key=lambda i: seams[i].ratio)[: max(1, finalists)]
    if positions * codec.cfg.stride * codec.spec.hop_length < codec.spec.n_fft + 2 * codec.spec.hop_length:
        return Loop(found[smoothest[0]].codes, seams[smoothest[0]], seams[0], len(found), choose)  # too short to hear
    heard = {i: audio_loop_seam(loop_audio(codec, found[i].codes, pad=loop_pad(codec)), codec.spec.n_fft,
                                codec.spec.hop_length) for i in smoothest}
    best = min(smoothest, key=lambda i: heard[i].ratio)
    return Loop(found[best].codes, seams[best], seams[0], len(found), choose, heard[best])
