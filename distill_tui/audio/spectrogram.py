"""The spectral front end on torch: STFT log-magnitude, a Slaney mel filterbank, fast Griffin-Lim.

All functions are batched and run on whatever device their input tensors live on (CPU, CUDA, MPS).
Log-magnitudes are in dB (20·log10 |X|). Model targets are taken relative to the sound's loudest
bin and floored (`to_relative_db`), and the floor is removed again before inversion (`from_db`),
so a floor never turns back into energy (docs/architecture.md, decision 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..config import SpectrogramConfig
from .phase import pghi_phase

_EPS = 1e-10


def hann(n_fft: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, device=device)


def stft(audio: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Complex STFT, centred, Hann window. audio: (B, N) -> (B, n_fft//2+1, 1 + N//hop).

    Sounds shorter than half a window (a 5 ms click) are zero-padded at the end first: the centring's
    reflect padding needs more samples than it pads.
    """
    if audio.shape[-1] <= n_fft // 2:
        audio = torch.nn.functional.pad(audio, (0, n_fft // 2 + 1 - audio.shape[-1]))
    return torch.stft(audio, n_fft, hop, window=hann(n_fft, audio.device), center=True, return_complex=True)


def istft(spec: torch.Tensor, n_fft: int, hop: int, length: int | None = None) -> torch.Tensor:
    """Inverse of `stft`. spec: (B, F, T) complex -> (B, N)."""
    return torch.istft(spec, n_fft, hop, window=hann(n_fft, spec.device), center=True, length=length)


def magnitude_db(audio: torch.Tensor, cfg: SpectrogramConfig) -> torch.Tensor:
    """audio: (B, N) -> log-magnitude in dB, (B, F, T) with T = 1 + N // hop."""
    mag = stft(audio, cfg.n_fft, cfg.hop_length).abs()
    return 20.0 * torch.log10(mag.clamp_min(_EPS))


def to_relative_db(db: torch.Tensor, floor_db: float, ref_db: torch.Tensor | float | None = None) -> torch.Tensor:
    """dB relative to `ref_db` (default: the loudest bin of each item), floored at `floor_db`.

    db: (B, F, T); ref_db: (B,) or scalar. Returns values in [floor_db, 0].
    """
    if ref_db is None:
        ref_db = db.amax(dim=(1, 2))
    ref = torch.as_tensor(ref_db, dtype=db.dtype, device=db.device).reshape(-1, 1, 1)
    return (db - ref).clamp(min=floor_db, max=0.0 if ref_db is None else None)


def sound_db(samples: np.ndarray, cfg: SpectrogramConfig, ref_db: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """One sound (N,) float32 -> its relative log-magnitude (1, F, T), 0 dB at `ref_db`, floored."""
    return to_relative_db(magnitude_db(torch.from_numpy(samples)[None].to(device), cfg), cfg.floor_db, ref_db)


def from_db(db: torch.Tensor, floor_db: float) -> torch.Tensor:
    """Relative dB back to linear magnitude; bins at or below the floor become exact zeros."""
    mag = torch.pow(10.0, db / 20.0)
    return torch.where(db <= floor_db + 1e-3, torch.zeros_like(mag), mag)


def n_frames(n_samples: int, hop: int) -> int:
    return 1 + n_samples // hop


@dataclass
class GriffinLimResult:
    audio: torch.Tensor  # (B, N)
    phase: torch.Tensor  # (B, F, T) unit-modulus complex; warm-starts a later call


def initial_phase(shape: tuple[int, ...], device: torch.device | str = "cpu", seed: int = 0) -> torch.Tensor:
    """A fixed pseudo-random phase: decoding is deterministic (same codes, same audio)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    angle = torch.rand(shape, generator=gen) * (2 * math.pi)
    return torch.polar(torch.ones_like(angle), angle).to(device)


# Frames per block of a Griffin-Lim iteration. An iteration goes block by block (frames, FFT, projection, inverse FFT,
# overlap-add), so each block's 1-2 MB of frames and spectra is used while still in the CPU's caches instead of
# whole-sound arrays streamed through memory once per step: with 64 frames 0.80-0.83 of the time for a 4-s sound at
# 44.1 kHz, 0.74 for a 30-s chunk. With fewer temporaries a block, 128 frames took 0.87 of 64's time on a 4-s sound
# and 0.91 on a 10-s one; 96 and 256 were slower (bench/RESULTS.md).
BLOCK_FRAMES = 128


def griffin_lim(
    mag: torch.Tensor,
    n_fft: int,
    hop: int,
    *,
    iters: int = 28,
    momentum: float = 0.95,
    length: int | None = None,
    phase: torch.Tensor | None = None,
    between: Callable[[], None] | None = None,
) -> GriffinLimResult:
    """Fast Griffin-Lim (Perraudin et al. 2013, https://arxiv.org/abs/1306.0222).

    mag: (B, F, T) linear magnitude. `phase` starts from an earlier estimate (same shape); without it
    the start is the PGHI phase of `mag` (`audio/phase.py`): on exact magnitudes of 20 real sounds at
    their own rates, 32 iterations from it scored 1.29 dB against 1.48 dB from a random phase
    (bench/RESULTS.md). Either way the result is deterministic. The defaults are `SpectrogramConfig`'s: at
    momentum 0.95, 28 iterations score as 32 did at 0.99.

    Each iteration is the same `istft` then `stft` as the functions above compute (centred, reflect
    padding, Hann window), written out on a (B, T, F) layout so that nothing is recomputed that need not
    be (`_GriffinLimPlan`), and run by blocks of `BLOCK_FRAMES` frames (the audio between iterations is
    whole): the same audio to float rounding (6e-5), in well under half the time (docs/architecture.md,
    decision 13).

    `between()` is called after every iteration but the last: an exception it raises ends the call there (the
    editor's idle full decode gives way to an edit so, within one iteration instead of one chunk of 30 s).
    """
    if phase is None:
        phase = pghi_phase(mag, n_fft, hop)
    b, f, t = mag.shape
    plan = _GriffinLimPlan(n_fft, hop, t, length, mag.device)
    mag_t = mag.transpose(1, 2).contiguous()  # (B, T, F)
    alpha = momentum / (1.0 + momentum)
    start = (mag_t * phase.to(mag.device).transpose(1, 2)).contiguous()  # (B, T, F): the first estimate
    audio = plan.istft(start)  # (B, length)
    if iters <= 0:
        return GriffinLimResult(audio=audio, phase=phase.to(mag.device).contiguous())
    size = BLOCK_FRAMES if t > 2 * BLOCK_FRAMES else t  # a short window (a partial re-decode's) in one block
    blocks = [(a, min(a + size, t)) for a in range(0, t, size)]
    angles = torch.empty_like(start)  # (B, T, F): the phase of the last step
    del start
    before = None  # (B, length): the last step's audio
    for i in range(iters):
        # The accelerated estimate STFT(audio) - alpha * STFT(before) is the STFT of audio - alpha * before (the
        # STFT is linear), so the momentum is taken on the audio, a quarter of the spectra's size
        frames = plan.ahead_frames(audio, before, alpha)  # (B, T, n_fft): a view of the reflect-padded audio - alpha * before
        ola = plan.new_overlap_add(audio)  # (B, full) zeros
        for a, z in blocks:
            c = torch.fft.rfft(frames[:, a:z] * plan.window, dim=-1)  # (B, block, F)
            # 1 / |c| from the real and imaginary parts: exact real arithmetic, so the audio does not depend on
            # how the work is split between threads (complex sgn and abs round differently by path). Squared
            # whole, then summed in pairs: products on the interleaved halves' strided views cost twice as much
            sq = torch.view_as_real(c).square()  # (B, block, F, 2)
            inv = torch.add(sq[..., 0], sq[..., 1]).clamp_min_(1e-32).rsqrt_()  # (B, block, F)
            if i == iters - 1:
                torch.mul(c, inv, out=angles[:, a:z])
            spec = c.mul_(inv.mul_(mag_t[:, a:z]))  # mag * c / |c|, into c's memory
            plan.overlap_add(torch.fft.irfft(spec, n=n_fft, dim=-1), ola, a, window=True)
        before, audio = audio, plan.finish(ola)
        if between is not None and i < iters - 1:
            between()
    return GriffinLimResult(audio=audio, phase=angles.transpose(1, 2).contiguous())


class _GriffinLimPlan:
    """`istft` and `stft` for one shape, on (B, T, F) spectra, with the window, the overlap-add envelope
    and the trimming worked out once. The same arithmetic as torch's: irfft, window, overlap-add,
    divide by the summed squared window, trim n_fft/2 (zeros beyond the last frame when `length` asks);
    reflect-pad n_fft/2, frames, window, rfft."""

    def __init__(self, n_fft: int, hop: int, frames: int, length: int | None, device: torch.device | str) -> None:
        self.n_fft, self.hop = n_fft, hop
        self._padded: torch.Tensor | None = None  # (B, N + n_fft): `ahead_frames`' buffer
        self.window = hann(n_fft, device)  # (n_fft,)
        self.full = n_fft + hop * (frames - 1)  # samples the overlap-add spans
        self.start = n_fft // 2
        self.length = self.full - n_fft if length is None else length
        env = self.new_overlap_add(self.window[None])
        self.overlap_add(self.window.square().expand(1, frames, n_fft), env)
        env = env[0, self.start : self.start + self.length]  # (<= length,): summed squared window
        env = torch.nn.functional.pad(env, (0, self.length - len(env)), value=1.0)  # past the last frame: zeros stay zeros
        self.inv_env = torch.where(env > 1e-11, 1.0 / env.clamp_min(1e-11), torch.zeros_like(env))  # (length,)

    def new_overlap_add(self, like: torch.Tensor) -> torch.Tensor:
        """(B, full) zeros, B and dtype from `like` (B, ...)."""
        return like.new_zeros(like.shape[0], self.full)

    def overlap_add(self, frames: torch.Tensor, out: torch.Tensor, first: int = 0, window: bool = False) -> None:
        """Add (B, t, n_fft) frames, the first being frame `first` of the sound, into `out` (B, full) at hop spacing;
        `window`: each frame times the window on the way (one pass over the frames instead of two)."""
        b, t, n = frames.shape
        hop = self.hop
        if n % hop == 0:  # n / hop strided adds of whole hops
            r = n // hop
            slots = out.view(b, -1, hop)  # (B, T + r - 1, hop)
            parts = frames.view(b, t, r, hop)
            pieces = self.window.view(r, hop)
            for k in range(r):
                if window:
                    slots[:, first + k : first + k + t].addcmul_(parts[:, :, k], pieces[k])
                else:
                    slots[:, first + k : first + k + t] += parts[:, :, k]
            return
        if window:
            frames = frames * self.window
        for i in range(t):
            at = (first + i) * hop
            out[:, at : at + n] += frames[:, i]

    def finish(self, summed: torch.Tensor) -> torch.Tensor:
        """(B, full) overlap-added windowed frames -> (B, length) audio: trimmed, divided by the window's sum."""
        y = summed[:, self.start : self.start + self.length]  # (B, <= length)
        if y.shape[-1] < self.length:
            y = torch.nn.functional.pad(y, (0, self.length - y.shape[-1]))
        return y * self.inv_env

    def istft(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, T, F) complex -> (B, length) audio."""
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1)  # (B, T, n_fft)
        frames.mul_(self.window)
        out = self.new_overlap_add(frames)
        self.overlap_add(frames, out)
        return self.finish(out)

    def ahead_frames(self, audio: torch.Tensor, before: torch.Tensor | None, alpha: float) -> torch.Tensor:
        """`frames(audio - alpha * before)` (`audio` alone when `before` is None), written into one padded buffer
        kept for the next call, the reflection copied by hand: a quarter of the time of a fresh `pad` a step. The
        frames are a view of that buffer, good until the next call."""
        b, n = audio.shape
        half = self.n_fft // 2
        if n <= half:  # too short to reflect: the general path pads it first
            return self.frames(audio if before is None else torch.sub(audio, before, alpha=alpha))
        buf = self._padded
        if buf is None or buf.shape != (b, n + 2 * half) or buf.dtype != audio.dtype:
            buf = self._padded = audio.new_empty(b, n + 2 * half)  # (B, N + n_fft)
        mid = buf[:, half : half + n]
        if before is None:
            mid.copy_(audio)
        else:
            torch.sub(audio, before, alpha=alpha, out=mid)
        buf[:, :half] = mid[:, 1 : half + 1].flip(-1)  # as pad(mode="reflect"): the edge sample is not repeated
        buf[:, half + n :] = mid[:, n - half - 1 : n - 1].flip(-1)
        return buf.unfold(-1, self.n_fft, self.hop)

    def frames(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, length) audio -> (B, T, n_fft) frames (unwindowed; a view of the reflect-padded audio),
        T = 1 + length // hop (must equal the plan's frames)."""
        half = self.n_fft // 2
        if audio.shape[-1] <= half:
            audio = torch.nn.functional.pad(audio, (0, half + 1 - audio.shape[-1]))
        padded = torch.nn.functional.pad(audio[:, None], (half, half), mode="reflect")[:, 0]  # (B, N + n_fft)
        return padded.unfold(-1, self.n_fft, self.hop)

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, length) audio -> (B, T, F) complex."""
        return torch.fft.rfft(self.frames(audio) * self.window, dim=-1)


def hz_to_mel(freq: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (as librosa with htk=False)."""
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    mel = freq / f_sp
    return torch.where(freq >= min_log_hz, min_log_mel + torch.log(freq.clamp_min(1e-9) / min_log_hz) / logstep, mel)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return torch.where(mel >= min_log_mel, min_log_hz * torch.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None) -> torch.Tensor:
    """Slaney-normalized triangular mel filters, (n_mels, n_fft//2+1), as librosa.filters.mel."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mel_pts = torch.linspace(float(hz_to_mel(torch.tensor(fmin))), float(hz_to_mel(torch.tensor(fmax))), n_mels + 2, dtype=torch.float64)
    hz_pts = mel_to_hz(mel_pts)
    fdiff = hz_pts[1:] - hz_pts[:-1]
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    enorm = 2.0 / (hz_pts[2 : n_mels + 2] - hz_pts[:n_mels])
    return (weights * enorm[:, None]).float()


def mel_to_linear_nnls(mel_power: torch.Tensor, fbank: torch.Tensor, iters: int = 300) -> torch.Tensor:
    """Invert mel power to linear power by non-negative least squares, batched.

    Accelerated projected gradient (FISTA, Beck & Teboulle 2009); the gradient goes through the
    (M, F) filterbank rather than its (F, F) Gram matrix. mel_power: (B, M, T), fbank: (M, F)
    -> (B, F, T), every entry >= 0.
    """
    fb = fbank.to(mel_power)
    step = 1.0 / float(torch.linalg.matrix_norm(fb @ fb.T, ord=2))
    x = (torch.linalg.pinv(fb) @ mel_power).clamp_min(0.0)  # (B, F, T)
    y, t = x, 1.0
    for _ in range(iters):
        x_next = (y - step * (fb.T @ (fb @ y - mel_power))).clamp_min(0.0)
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        y = x_next + ((t - 1) / t_next) * (x_next - x)
        x, t = x_next, t_next
    return x
