"""Seamless loops: choose among the prior's loop candidates by their seam, and decode a grid as a loop.

A grid decoded on its own has edges: the decoder sees nothing before its first position or after its
last, so played round, its wrap jumps even where the codes flow. Decoded as a loop, the grid is laid
end to end with itself (a whole copy on each side by default; `pad` positions of wrap-around context
with `loop_cycle`, which the editor and export use), the middle copy's spectrum is kept (its last frame
is followed by its own first), and its audio comes from Griffin-Lim on a circular STFT (frames wrap round
the cycle), so the wrap is continuous sample by sample and spectrally no different from any other point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..analysis.generation import LoopSeam, loop_seam
from ..codes.grid import CodeGrid
from .codec import Codec, decoder_context
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
    """Audio (positions * stride * hop,) of `codes` that plays round without a seam (see the module's doc).

    `pad` positions of wrap-around context on each side for the decoder (default: a whole copy); `muted` levels
    (0-based) are left out, as in `Codec.decode_db`. The loop's spectrum is turned into audio by Griffin-Lim
    on a circular STFT (`circular_griffin_lim`), so the cycle's last sample runs into its first."""
    import torch

    from ..audio.phase import pghi_phase
    from ..audio.spectrogram import from_db

    pad = codes.shape[1] if pad is None else pad
    frames = codes.shape[1] * codec.cfg.stride
    skip = pad * codec.cfg.stride
    db = codec.decode_db(wrapped(codes, pad), muted)[:, skip : skip + frames]  # (F, frames): the loop's own
    ref = codec.default_ref_db if ref_db is None else ref_db
    mag = from_db(db, codec.spec.floor_db) * 10 ** ((float(ref) + float(gain_db)) / 20)  # (F, frames)
    spec = codec.spec
    phase = pghi_phase(mag[None], spec.n_fft, spec.hop_length)[0]  # (F, frames)
    with torch.no_grad():
        audio = circular_griffin_lim(mag, spec.n_fft, spec.hop_length, iters=spec.griffin_lim_iters,
                                     momentum=spec.griffin_lim_momentum, phase=phase).cpu().numpy()
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > 0.999:  # never clip
        audio *= 0.999 / peak
    return audio.astype(np.float32)


def circular_griffin_lim(mag: Any, n_fft: int, hop: int, *, iters: int, momentum: float, phase: Any) -> Any:
    """Fast Griffin-Lim (as `audio.spectrogram.griffin_lim`) on a circular STFT: mag (F, T) -> audio (T * hop,).

    The signal is taken as periodic: frame t covers samples [t * hop - n_fft / 2, t * hop + n_fft / 2) modulo
    T * hop (a Hann window, the phase measured from the frame's first sample, as `torch.stft`'s centred frames),
    so the audio it finds has no edges: played round, it continues across the wrap as anywhere else."""
    import torch

    from ..audio.spectrogram import hann

    frames = mag.shape[-1]
    n = frames * hop
    idx = (torch.arange(frames)[:, None] * hop - n_fft // 2 + torch.arange(n_fft)[None, :]) % n  # (T, n_fft)
    flat = idx.reshape(-1)
    window = hann(n_fft, mag.device)  # (n_fft,)
    env = torch.zeros(n, device=mag.device).index_add_(0, flat, window.square().expand(frames, n_fft).reshape(-1))

    def istft(spec: Any) -> Any:  # (T, F) -> (n,)
        pieces = torch.fft.irfft(spec, n=n_fft, dim=-1) * window  # (T, n_fft)
        return torch.zeros(n, device=mag.device).index_add_(0, flat, pieces.reshape(-1)) / env.clamp_min(1e-11)

    def stft(x: Any) -> Any:  # (n,) -> (T, F)
        return torch.fft.rfft(x[idx] * window, dim=-1)

    mag_t = mag.T.contiguous()  # (T, F)
    spec = mag_t * phase.T.to(mag.device)  # (T, F)
    prev = torch.zeros_like(spec)
    alpha = momentum / (1.0 + momentum)
    for _ in range(iters):
        rebuilt = stft(istft(spec))  # (T, F)
        c = rebuilt - alpha * prev
        spec = mag_t * c / c.abs().clamp_min(1e-16)
        prev = rebuilt
    return istft(spec)


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
              choose: str = "seam", seam_positions: int | None = None) -> Loop:
    """A loop of `positions`: the prior's candidates, the one with the smoothest wrap (or the prior's likeliest)."""
    if choose not in CHOICES:
        raise ValueError(f"choose must be one of {CHOICES}")
    found = prior.loop_candidates(positions, settings, seam_positions=seam_positions, candidates=candidates)
    seams = [loop_seam(loop_spectrum(codec, c.codes)) for c in found]
    best = min(range(len(found)), key=lambda i: seams[i].ratio) if choose == "seam" else 0
    return Loop(found[best].codes, seams[best], seams[0], len(found), choose)
