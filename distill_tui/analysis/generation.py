"""Measures of generated sounds: plausibility, novelty, and how seamlessly a loop wraps.

- plausibility: each generated 0.5-s window's log-spectral distance (dB) to its nearest window of the
  training audio (any frame offset, any file), averaged; lower is closer to something real.
- novelty: the share of the generated grids' 8-position column n-grams (every level of 8 consecutive
  positions) found verbatim in a training grid, the token 8-gram copy rate `train-prior` reports, and
  the nearest-grid Hamming distance (analysis/memorization.py).
- loop seam: the spectral jump from a loop's last frame to its first against the median jump between
  neighbouring frames inside it; a ratio <= 1 means the wrap is no rougher than the loop itself.

Spectra are (bins, frames) in dB; a frame's distance is the root mean square of the dB difference over
bins (the log-spectral distance of `analysis/quality.py`), a window's the mean over its frames. No torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .memorization import COPY_N, copy_rate, nearest_hamming

WINDOW_SECONDS = 0.5


# ------------------------------------------------------------------ plausibility
@dataclass
class Plausibility:
    mean_lsd_db: float  # mean over every generated window of the distance to its nearest training window
    windows: int  # generated windows scored
    window_frames: int
    per_sound_db: list[float]  # mean over each generated sound's windows

    def as_dict(self) -> dict:
        return asdict(self)


def frame_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS dB difference between every frame of a (F, Ta) and every frame of b (F, Tb): (Ta, Tb)."""
    shift = 0.5 * (float(a.max(initial=0)) + float(a.min(initial=0)))  # centred: float32 is then within ~0.01 dB
    a = (a - shift).astype(np.float32)
    b = (b - shift).astype(np.float32)
    d2 = (a * a).sum(0)[:, None] + (b * b).sum(0)[None] - 2.0 * (a.T @ b)  # (Ta, Tb)
    return np.sqrt(np.maximum(d2, 0.0) / a.shape[0])


def _nearest_windows(gen: np.ndarray, starts: np.ndarray, w: int, train: np.ndarray) -> np.ndarray:
    """For windows gen[:, s : s + w] (s in starts), the least mean frame distance to any w-frame window of train."""
    d = frame_distances(gen, train)  # (Tg, Tr)
    m = train.shape[1] - w + 1  # offsets in the training sound
    acc = np.zeros((len(starts), m), dtype=np.float64)  # (windows, offsets)
    for k in range(w):  # sum along the diagonals: window pair (s, j) pairs frame s + k with j + k
        acc += d[starts + k, k : k + m]
    return acc.min(axis=1) / w


def plausibility(generated: list[np.ndarray], training: list[np.ndarray], window_frames: int,
                 floor_db: float) -> Plausibility:
    """Mean log-spectral distance of each generated window to its nearest training window.

    generated, training: spectra (F, T) in dB relative to each sound's loudest bin, floored at
    `floor_db`. Generated sounds are cut into back-to-back windows of `window_frames` (a sound shorter
    than that is one window of its length); a training sound shorter than a window is padded with
    silence (the floor), since it ended in silence.
    """
    if not generated or not training:
        raise ValueError("plausibility needs generated and training spectra")
    scores, per_sound = [], []
    for g in generated:
        w = min(window_frames, g.shape[1])
        starts = np.arange(0, g.shape[1] - w + 1, w)  # back-to-back windows
        best = np.full(len(starts), np.inf)
        for t in training:
            if t.shape[1] < w:
                t = np.pad(t, ((0, 0), (0, w - t.shape[1])), constant_values=floor_db)
            best = np.minimum(best, _nearest_windows(g, starts, w, t))
        scores.extend(best.tolist())
        per_sound.append(float(best.mean()))
    return Plausibility(float(np.mean(scores)), len(scores), window_frames, per_sound)


# ------------------------------------------------------------------ novelty
@dataclass
class Novelty:
    copy_rate_columns: float  # share of generated n-position column windows found verbatim in a training grid
    copy_rate_tokens: float  # share of generated n-token runs of the prior's stream found verbatim (train-prior's)
    nearest_hamming: float  # share of cells that differ from the nearest training stretch (0 = a copy)
    n: int = COPY_N

    def as_dict(self) -> dict:
        return asdict(self)


def column_copy_rate(generated: list[np.ndarray], training: list[np.ndarray], n: int = COPY_N) -> float:
    """Share of the generated grids' n-position windows (every level) that occur verbatim in a training grid."""
    def grams(grid: np.ndarray) -> list[bytes]:
        grid = np.ascontiguousarray(np.asarray(grid, dtype=np.int32).T)  # (P, Q): one row per position
        if grid.shape[0] < n:
            return []
        return [grid[i : i + n].tobytes() for i in range(grid.shape[0] - n + 1)]

    known = {g for t in training for g in grams(t)}
    found = [g in known for grid in generated for g in grams(grid)]
    return sum(found) / len(found) if found else 0.0


def novelty(generated: list[np.ndarray], training: list[np.ndarray], sizes: list[int], n: int = COPY_N) -> Novelty:
    """Copy rates (column and token n-grams) and the nearest-grid Hamming distance of generated grids (Q, P)."""
    return Novelty(column_copy_rate(generated, training, n), copy_rate(generated, training, sizes, n),
                   nearest_hamming(generated, training), n)


# ------------------------------------------------------------------ loops
@dataclass
class LoopSeam:
    seam_db: float  # RMS dB difference between the last frame and the first
    median_jump_db: float  # median of the same between neighbouring frames inside the loop
    ratio: float  # seam / median jump; <= 1: the wrap is no rougher than the loop itself

    @property
    def seamless(self) -> bool:
        return self.seam_db <= self.median_jump_db

    def as_dict(self) -> dict:
        return {**asdict(self), "seamless": self.seamless}


def loop_seam(spec: np.ndarray) -> LoopSeam:
    """The wrap's spectral jump (last frame -> first) against the median frame-to-frame jump; spec (F, T) dB."""
    spec = np.asarray(spec, dtype=np.float64)
    if spec.ndim != 2 or spec.shape[1] < 3:
        raise ValueError("a loop's spectrum needs at least three frames")
    jumps = np.sqrt(np.mean(np.diff(spec, axis=1) ** 2, axis=0))  # (T - 1,)
    seam = float(np.sqrt(np.mean((spec[:, 0] - spec[:, -1]) ** 2)))
    median = float(np.median(jumps))
    return LoopSeam(seam, median, seam / median if median > 0 else (0.0 if seam == 0 else float("inf")))


def audio_loop_seam(audio: np.ndarray, n_fft: int, hop: int, floor_db: float = -90.0) -> LoopSeam:
    """The seam of audio (N,) played round, measured on its own spectrogram (no model involved).

    The audio is rotated so its wrap falls halfway between two frame centres of a Hann STFT (no
    padding); the seam is the jump between those two frames, against the median jump of all frames.
    Spectra are dB relative to the loudest bin, floored at `floor_db`.
    """
    n = len(audio)
    if n < n_fft + 2 * hop:
        raise ValueError("the loop is too short for its spectrogram")
    t = max(0, (n // 2 - n_fft // 2) // hop)
    shift = t * hop + n_fft // 2 + hop // 2  # the wrap sits between frames t and t + 1
    y = np.roll(np.asarray(audio, dtype=np.float64), shift)
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop] * np.hanning(n_fft + 1)[:-1]  # (T, n_fft)
    db = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) + 1e-10).T  # (F, T)
    db = np.maximum(db - db.max(), floor_db)
    jumps = np.sqrt(np.mean(np.diff(db, axis=1) ** 2, axis=0))  # (T - 1,)
    median = float(np.median(jumps))
    seam = float(jumps[t])
    return LoopSeam(seam, median, seam / median if median > 0 else (0.0 if seam == 0 else float("inf")))


def seam_summary(seams: list[LoopSeam]) -> dict:
    """Median ratio and the share of loops whose seam is within their median jump."""
    ratios = [s.ratio for s in seams]
    return {"loops": len(seams), "median_ratio": float(np.median(ratios)) if ratios else None,
            "seamless_share": float(np.mean([s.seamless for s in seams])) if seams else None,
            "median_seam_db": float(np.median([s.seam_db for s in seams])) if seams else None,
            "median_jump_db": float(np.median([s.median_jump_db for s in seams])) if seams else None}
