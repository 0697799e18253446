"""Export a sound: gentle filters, mono or widened stereo, fades, peak normalization, WAV/FLAC, codes beside it.

The processing order is fixed: high-pass -> low-pass -> stereo width -> fades -> peak normalization -> write.
Normalizing last makes the written peak exactly the target; fading after widening makes both channels
start and end in silence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import BadInputError
from .io import SUBTYPES, normalize_audio, save_audio

BUTTERWORTH_Q = 1 / math.sqrt(2)  # 2nd order, maximally flat: -3 dB at the cutoff, 12 dB/octave beyond
ALLPASS_STAGES = ((0.0029, 0.5), (0.0043, 0.5), (0.0071, 0.5))  # (delay s, gain) of the side decorrelator


class SavesItself(Protocol):
    def save(self, path: Path) -> object: ...


@dataclass
class ExportOptions:
    """How to shape and write the sound. The defaults write it unchanged as 16-bit mono."""

    bits: str = "16"  # "16", "24" or "float" (FLAC: 16 or 24)
    normalize_db: float | None = None  # peak target in dBFS (e.g. -1.0); None leaves the level alone
    fade_in_ms: float = 0.0
    fade_out_ms: float = 0.0
    highpass_hz: float | None = None  # e.g. 30: removes rumble and DC
    lowpass_hz: float | None = None  # e.g. 9000: tames hiss and Griffin-Lim's high-frequency fizz
    channels: int = 1  # 1 or 2
    width: float = 0.5  # stereo only: 0 = both channels equal, 1 = side as loud as the middle

    def validate(self, sample_rate: int, seconds: float) -> None:
        nyquist = sample_rate / 2
        if self.bits not in SUBTYPES:
            raise BadInputError(f"bit depth {self.bits!r} is not one of 16, 24, float")
        if self.channels not in (1, 2):
            raise BadInputError(f"channels must be 1 or 2, not {self.channels}")
        if not 0.0 <= self.width <= 1.0:
            raise BadInputError(f"stereo width {self.width} is outside 0..1")
        for name, hz in (("high-pass", self.highpass_hz), ("low-pass", self.lowpass_hz)):
            if hz is not None and not 0 < hz < nyquist:
                raise BadInputError(
                    f"{name} cutoff {hz} Hz is outside 0..{nyquist:g} Hz (half the sample rate)"
                )
        if self.highpass_hz and self.lowpass_hz and self.highpass_hz >= self.lowpass_hz:
            raise BadInputError(f"high-pass {self.highpass_hz} Hz is not below low-pass {self.lowpass_hz} Hz")
        if self.fade_in_ms < 0 or self.fade_out_ms < 0:
            raise BadInputError("fade lengths cannot be negative")
        if (self.fade_in_ms + self.fade_out_ms) / 1000 > seconds:
            raise BadInputError(
                f"fades of {self.fade_in_ms:g} + {self.fade_out_ms:g} ms are longer than the sound ({seconds:.3f} s)"
            )
        if self.normalize_db is not None and not -60.0 <= self.normalize_db <= 0.0:
            raise BadInputError(f"normalization target {self.normalize_db} dBFS is outside -60..0")


@dataclass
class ExportResult:
    """What was written."""

    path: Path
    codes_path: Path | None
    sample_rate: int
    channels: int
    frames: int
    bits: str
    peak_dbfs: float  # of the written samples, before integer rounding

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def codes_path_for(path: str | Path) -> Path:
    """`sound.wav` -> `sound.codes.json`, beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.codes.json")


def export_audio(
    path: str | Path,
    samples: np.ndarray,
    sample_rate: int,
    options: ExportOptions | None = None,
    *,
    codes: SavesItself | None = None,
) -> ExportResult:
    """Shape `samples` ((N,) or (N, C); more than one channel is mixed to mono first) and write `path`.

    `.wav` or `.flac` by extension. With `codes` (anything with `.save(path)`, such as a code grid), the
    codes are saved beside the audio as `<stem>.codes.json` so the sound can be reopened for editing.
    """
    options = options or ExportOptions()
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim == 2:
        data = data.mean(axis=1)
    if data.ndim != 1 or data.size == 0:
        raise BadInputError(f"nothing to export: samples of shape {np.shape(samples)}", path)
    if not np.isfinite(data).all():
        raise BadInputError("the sound has NaN or infinite samples", path)
    try:
        options.validate(sample_rate, len(data) / sample_rate)
    except BadInputError as exc:
        raise BadInputError(exc.reason, path) from None
    if options.highpass_hz:
        data = biquad(data, *biquad_coefficients("highpass", options.highpass_hz, sample_rate))
    if options.lowpass_hz:
        data = biquad(data, *biquad_coefficients("lowpass", options.lowpass_hz, sample_rate))
    out = widen(data, sample_rate, options.width) if options.channels == 2 else data  # (N,) or (N, 2)
    out = apply_fades(out, sample_rate, options.fade_in_ms, options.fade_out_ms)
    if options.normalize_db is not None:  # in float64, so samples near float32's largest cannot overflow here
        out = normalize_audio(out, "peak", options.normalize_db)
    with np.errstate(over="ignore"):
        out = out.astype(np.float32)
    if not np.isfinite(out).all():  # huge samples can overflow float32 in the filters or the widening
        raise BadInputError("the sound has NaN or infinite samples after shaping (samples far beyond 1.0?)", path)
    written = save_audio(path, out, sample_rate, bits=options.bits)
    codes_path = None
    if codes is not None:
        codes_path = codes_path_for(written)
        codes.save(codes_path)
    peak = float(np.abs(out).max())
    return ExportResult(
        path=written,
        codes_path=codes_path,
        sample_rate=sample_rate,
        channels=options.channels,
        frames=len(out),
        bits=options.bits,
        peak_dbfs=20 * math.log10(peak) if peak > 0 else -math.inf,
    )


def biquad_coefficients(
    kind: str, cutoff_hz: float, sample_rate: int, q: float = BUTTERWORTH_Q
) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of a 2nd-order "highpass" or "lowpass", a[0] = 1 (R. Bristow-Johnson's Audio EQ Cookbook)."""
    w0 = 2 * math.pi * cutoff_hz / sample_rate
    alpha, cos_w0 = math.sin(w0) / (2 * q), math.cos(w0)
    if kind == "lowpass":
        b = np.array([(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2])
    elif kind == "highpass":
        b = np.array([(1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2])
    else:
        raise ValueError(f"unknown filter kind {kind!r}")
    a = np.array([1 + alpha, -2 * cos_w0, 1 - alpha])
    return b / a[0], a / a[0]


def biquad(x: np.ndarray, b: np.ndarray, a: np.ndarray, block: int = 256) -> np.ndarray:
    """Filter `x` ((N,) or (N, C)) along time with one biquad, from rest; float64, exact up to rounding.

    Vectorized by blocks: within a block of L samples the output is a Toeplitz matrix of the impulse
    response times the input plus the block's starting state; only the 2-value state is carried across
    blocks in a Python loop (N / L steps). State space of the transposed direct form II:
        y[n] = b0 x[n] + s1[n];  s1[n+1] = -a1 s1[n] + s2[n] + (b1 - a1 b0) x[n];  s2[n+1] = -a2 s1[n] + (b2 - a2 b0) x[n]
    """
    x = np.asarray(x, dtype=np.float64)
    squeeze = x.ndim == 1
    x2 = x[:, None] if squeeze else x  # (N, C)
    n, c = x2.shape
    b0, b1, b2 = (float(v) for v in b)
    _, a1, a2 = (float(v) for v in a)
    A = np.array([[-a1, 1.0], [-a2, 0.0]])
    B = np.array([b1 - a1 * b0, b2 - a2 * b0])
    powers = [np.eye(2)]
    for _ in range(block):
        powers.append(A @ powers[-1])
    h = np.array([b0] + [powers[k - 1][0] @ B for k in range(1, block)])  # impulse response, (L,)
    idx = np.arange(block)
    T = np.where(
        idx[:, None] >= idx[None, :], h[np.clip(idx[:, None] - idx[None, :], 0, None)], 0.0
    )  # (L, L)
    Ob = np.stack([powers[i][0] for i in range(block)])  # (L, 2): state at block start -> output at i
    R = np.stack([powers[block - 1 - j] @ B for j in range(block)], axis=1)  # (2, L): input j -> end state
    AL = powers[block]
    nb = -(-n // block)
    X = np.zeros((nb * block, c))
    X[:n] = x2
    X = X.reshape(nb, block, c)  # (nb, L, C)
    Y = np.einsum("ij,bjc->bic", T, X)  # zero-state response of each block
    S_in = np.einsum("sj,bjc->bsc", R, X)  # (nb, 2, C): each block's inputs' effect on its end state
    states = np.zeros((nb, 2, c))
    for k in range(1, nb):
        states[k] = AL @ states[k - 1] + S_in[k - 1]
    Y += np.einsum("is,bsc->bic", Ob, states)
    y = Y.reshape(nb * block, c)[:n]
    return y[:, 0] if squeeze else y


def allpass(x: np.ndarray, delay: int, gain: float) -> np.ndarray:
    """Schroeder all-pass y[n] = -g x[n] + x[n-D] + g y[n-D]: flat magnitude, scrambled phase (1-D)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.empty_like(x)
    y[:delay] = -gain * x[:delay]
    for start in range(delay, len(x), delay):  # each block depends only on the previous one
        end = min(start + delay, len(x))
        k = end - start
        y[start:end] = (
            -gain * x[start:end]
            + x[start - delay : start - delay + k]
            + gain * y[start - delay : start - delay + k]
        )
    return y


def decorrelate(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """A signal with `x`'s magnitude spectrum and little correlation with it: three all-passes in series."""
    y = np.asarray(x, dtype=np.float64)
    for seconds, gain in ALLPASS_STAGES:
        y = allpass(y, max(1, round(seconds * sample_rate)), gain)
    return y


def widen(mono: np.ndarray, sample_rate: int, width: float) -> np.ndarray:
    """(N,) -> (N, 2): left = mid + width * side, right = mid - width * side, side decorrelated from mid.

    Mono-compatible by construction: (left + right) / 2 is exactly the input.
    """
    mid = np.asarray(mono, dtype=np.float64)
    if width == 0:
        return np.stack([mid, mid], axis=1)
    side = width * decorrelate(mid, sample_rate)
    return np.stack([mid + side, mid - side], axis=1)


def apply_fades(x: np.ndarray, sample_rate: int, fade_in_ms: float, fade_out_ms: float) -> np.ndarray:
    """Raised-cosine fades: the first sample of a fade-in and the last of a fade-out are exactly 0."""
    out = np.array(x, dtype=np.float64, copy=True)
    n_in, n_out = round(fade_in_ms * sample_rate / 1000), round(fade_out_ms * sample_rate / 1000)
    if n_in > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_in) / n_in)  # 0 ... just under 1
        out[:n_in] *= ramp if out.ndim == 1 else ramp[:, None]
    if n_out > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_out)[::-1] / n_out)  # just under 1 ... 0
        out[len(out) - n_out :] *= ramp if out.ndim == 1 else ramp[:, None]
    return out
