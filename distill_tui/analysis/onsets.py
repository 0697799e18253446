"""Onsets by spectral flux, and how far a decode moves them from the original's (issue 13, "Sharper time").

Detection (after Dixon 2006, "Onset detection revisited", and Böck & Widmer 2013, "SuperFlux"): a log-magnitude
STFT with a window of about 23 ms and a hop of an eighth of it (2.9 ms at 44.1 kHz); each frame's rise over the
frame `LAG` hops earlier (max-filtered over +-`WIDEN` bins), positive parts summed over bins (the flux); then the
peaks of the flux that are its largest within +-`PEAK_S`, stand `DELTA` (a share of the file's largest flux) above
the flux's mean around them, and lie at least `MIN_GAP_S` after the last onset kept. A peak's time is refined
between frames by a parabola through it and its neighbours. Magnitudes are scaled to the signal's own loudest bin,
so a decode at another level finds the same onsets. The signal is padded with a window of silence before it (an
attack on its first sample is seen rising) and none after it (a sound cut off at its end is no attack). An onset's time is where the flux peaks, a little before the attack
itself (the window's leading edge meets it first); that offset is the same in an original and its decode, so
differences are true. Numpy only; the same numbers at any rate.

`onset_error` matches each of the original's onsets to the nearest unused onset of the decode within
`TOLERANCE_S` and reports the median |time difference| in ms over the matched ones and the share matched, and how
sharp the original's onsets are (`sharpness`): the flux at them over the flux's median. A drum's attack stands far
out of a flux near zero between hits; a pad's swells barely stand out of a flux that never rests.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

WINDOW_S = 0.0232  # the STFT window, rounded to a power of two in samples (1024 at 44.1 kHz, 512 at 22.05 kHz)
HOPS_PER_WINDOW = 8  # hop = window / 8: 2.9 ms at 44.1 kHz; peaks are refined between frames
COMPRESS = 100.0  # log(1 + COMPRESS * magnitude / loudest bin): about 40 dB of range counts
LAG = 4  # the rise is measured over 4 hops (11.6 ms at 44.1 kHz): 1 or 2 let noisy decays read as attacks
WIDEN = 1  # the earlier frame is max-filtered over +-WIDEN bins (SuperFlux)
PEAK_S = 0.015  # an onset is the flux's largest value within +-15 ms
MEAN_BEFORE_S, MEAN_AFTER_S = 0.1, 0.05  # the adaptive threshold: the flux's mean over [-100, +50] ms
DELTA = 0.15  # ... plus this share of the file's largest flux
MIN_GAP_S = 0.03  # onsets closer than 30 ms are one
TOLERANCE_S = 0.05  # a decoded onset further than 50 ms from an original one does not match it
SILENT = 1e-5  # a signal whose peak is below this has no onsets
# Onsets at least this sharp (`sharpness`) are attacks. Real files with 4 or more onsets (pads-drums-50, originals):
# the 6 drum loops 20-78, a pulsing drone 57; 8 pads and strings 1.6-3.9 and a soft bass riff 4.3.
SHARP = 8.0


def stft_frames(sample_rate: int) -> tuple[int, int]:
    """(window, hop) in samples for the onset STFT at this rate."""
    n_fft = 2 ** round(math.log2(WINDOW_S * sample_rate))
    return n_fft, max(1, n_fft // HOPS_PER_WINDOW)


@dataclass
class Flux:
    """The onset strength of a signal, one value a frame."""

    values: np.ndarray  # (T,) the positive rise into each frame, summed over bins
    frame_rate: float  # frames per second
    start_s: float  # the time of frame 0's centre (negative: the signal is padded with silence before it)

    def time(self, frame: float) -> float:
        """Seconds into the signal of (fractional) frame `frame`'s centre."""
        return self.start_s + frame / self.frame_rate


def spectral_flux(x: np.ndarray, sample_rate: int) -> Flux:
    """The positive log-magnitude flux of mono audio `x`: each frame's log magnitudes less those `LAG` hops
    earlier (widened over +-`WIDEN` bins), the rises summed over bins."""
    n_fft, hop = stft_frames(sample_rate)
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    lead = n_fft + LAG * hop  # a window of silence before the first sample, so an attack there is seen rising
    padded = np.pad(x, (lead, 0))  # none after: a sound cut off at its end is not an attack
    n_frames = 1 + (len(padded) - n_fft) // hop  # the padding makes len(padded) >= n_fft
    start = (n_fft // 2 - lead) / sample_rate
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, n_fft), strides=(padded.strides[0] * hop, padded.strides[0]))  # (T, n_fft)
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    mag = np.abs(np.fft.rfft(frames * window, axis=1)).astype(np.float32)  # (T, n_fft // 2 + 1)
    loudest = float(mag.max())
    if loudest <= 0:
        return Flux(np.zeros(n_frames, dtype=np.float32), sample_rate / hop, start)
    logmag = np.log1p(COMPRESS * mag / loudest)  # (T, F)
    ref = logmag
    if WIDEN:
        ref = np.lib.stride_tricks.sliding_window_view(np.pad(logmag, ((0, 0), (WIDEN, WIDEN)), mode="edge"), 2 * WIDEN + 1, axis=1).max(axis=2)
    prev = np.concatenate([np.repeat(ref[:1], LAG, axis=0), ref[:-LAG]])  # (T, F): frame t - LAG
    rise = logmag - prev  # (T, F)
    return Flux(np.maximum(rise, 0).sum(axis=1), sample_rate / hop, start)


def _running_mean(v: np.ndarray, before: int, after: int) -> np.ndarray:
    """Mean of v over [t - before, t + after] at every t (shorter at the ends)."""
    c = np.concatenate([[0.0], np.cumsum(v, dtype=np.float64)])
    t = np.arange(len(v))
    lo, hi = np.clip(t - before, 0, len(v)), np.clip(t + after + 1, 0, len(v))
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)


def _running_max(v: np.ndarray, half: int) -> np.ndarray:
    """Max of v over [t - half, t + half] at every t."""
    padded = np.pad(v, (half, half), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)  # (T, 2 * half + 1)
    return windows.max(axis=1)


def detect_onsets(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Onset times in seconds (ascending) of mono audio `x`; empty for silence or a signal without attacks."""
    strength = _strength(x, sample_rate)
    return np.zeros(0) if strength is None else onset_times(strength)


def _strength(x: np.ndarray, sample_rate: int) -> Flux | None:
    """The flux of mono audio `x`; None for nothing or silence."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if len(x) == 0 or float(np.abs(x).max()) < SILENT:
        return None
    return spectral_flux(x, sample_rate)


def sharpness(strength: Flux, times: np.ndarray) -> float | None:
    """How far onsets at `times` (s) stand out of the flux: the median flux at their frames over the median of the
    flux where it is above zero (None without onsets). Attacks read `SHARP` and more, swells less."""
    v = strength.values
    if not len(times) or not (v > 0).any():
        return None
    at = np.clip(np.round((np.asarray(times) - strength.start_s) * strength.frame_rate).astype(int), 0, len(v) - 1)
    return float(np.median(v[at]) / np.median(v[v > 0]))


def onset_times(strength: Flux) -> np.ndarray:
    """Onset times in seconds (ascending) from a signal's flux (`detect_onsets`)."""
    flux, fps = strength.values, strength.frame_rate
    top = float(flux.max())
    if top <= 0:
        return np.zeros(0)
    flux = flux / top
    is_peak = flux >= _running_max(flux, max(1, round(PEAK_S * fps)))
    above = flux >= _running_mean(flux, round(MEAN_BEFORE_S * fps), round(MEAN_AFTER_S * fps)) + DELTA
    times, last = [], -math.inf
    for t in np.flatnonzero(is_peak & above):
        if (t - last) / fps < MIN_GAP_S:
            continue
        last = t
        times.append(strength.time(t + _parabola_offset(flux, t)))
    return np.asarray(times)


def _parabola_offset(v: np.ndarray, t: int) -> float:
    """Sub-frame offset (-0.5..0.5) of the vertex of the parabola through v[t-1], v[t], v[t+1]."""
    if t <= 0 or t >= len(v) - 1:
        return 0.0
    a, b, c = float(v[t - 1]), float(v[t]), float(v[t + 1])
    denom = a - 2 * b + c
    return 0.0 if denom >= 0 else float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))


@dataclass
class OnsetError:
    """How a decode's onsets sit against the original's."""

    median_ms: float | None  # median |time difference| over matched onsets; None when none matched
    hits: float  # share of the original's onsets matched within the tolerance (0 when it has none)
    matched: int
    original: int  # onsets found in the original
    decoded: int  # onsets found in the decode
    mean_signed_ms: float | None = None  # mean (decoded - original): negative when the decode comes early
    sharpness: float | None = None  # the original's onsets' `sharpness`: attacks >= SHARP, swells below

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def match_onsets(original: np.ndarray, decoded: np.ndarray, tolerance_s: float = TOLERANCE_S) -> list[tuple[float, float]]:
    """Pairs (original time, decoded time): each original onset, in order, takes the nearest decoded onset not
    yet taken, if it lies within `tolerance_s`."""
    free = sorted(float(t) for t in decoded)
    pairs = []
    for t in original:
        if not free:
            break
        i = int(np.argmin([abs(d - t) for d in free]))
        if abs(free[i] - t) <= tolerance_s:
            pairs.append((float(t), free.pop(i)))
    return pairs


def onset_error(original: np.ndarray, decoded: np.ndarray, sr: int, tolerance_s: float = TOLERANCE_S) -> OnsetError:
    """Onsets of `original` and `decoded` (mono, both at `sr`) and the error between them (`OnsetError`)."""
    strength = _strength(original, sr)
    a = np.zeros(0) if strength is None else onset_times(strength)
    b = detect_onsets(decoded, sr)
    pairs = match_onsets(a, b, tolerance_s)
    diffs = np.array([d - o for o, d in pairs]) * 1000  # (matched,) ms
    return OnsetError(
        median_ms=float(np.median(np.abs(diffs))) if len(diffs) else None,
        hits=len(pairs) / len(a) if len(a) else 0.0,
        matched=len(pairs), original=len(a), decoded=len(b),
        mean_signed_ms=float(diffs.mean()) if len(diffs) else None,
        sharpness=None if strength is None else sharpness(strength, a),
    )
