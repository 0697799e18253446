"""Pitch-shifted copies of the training sounds, made once in the time domain and cached.

A copy is its sound resampled by 2^(semitones/12) and played back at the model rate, as a sampler repitches:
higher and shorter, or lower and longer. Unlike the spectrogram warp of `dataset.Augment` it keeps each
spectrum's fine structure (harmonics stay sharp), so the crops the model learns from stay as detailed as real
sounds. The crop sampler (`dataset.CropSampler`) draws from the copies as well as the originals.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import soxr
import torch

from ..audio.spectrogram import magnitude_db
from ..config import SpectrogramConfig
from .cache import AudioCache

COPY_VERSION = 1  # bump when the way copies are made changes: old cache entries are then not used


@dataclass
class PitchCopy:
    """One copy of a sound: mono float32 at the model rate, its own loudest STFT bin as `ref_db`."""

    semitones: float
    samples: np.ndarray  # (N',) float32; N' ~ N / 2^(semitones/12)
    ref_db: float


def pitch_shift(samples: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """(N,) -> (about N / 2^(semitones/12),) float32: resampled (soxr HQ), so up in pitch is also shorter."""
    ratio = 2.0 ** (semitones / 12)
    out = soxr.resample(samples.astype(np.float32, copy=False), sample_rate, sample_rate / ratio, quality="HQ")
    return np.ascontiguousarray(out, dtype=np.float32)


def copy_cache(spec: SpectrogramConfig) -> AudioCache:
    """The audio cache (`cache.AudioCache`, beside the preprocessed originals) under a key of its own."""
    return AudioCache({"sr": spec.sample_rate, "n_fft": spec.n_fft, "hop": spec.hop_length, "kind": "pitch-copy",
                       "v": COPY_VERSION})


def samples_digest(samples: np.ndarray) -> str:
    """A content hash of the preprocessed samples themselves: a copy depends on them, not on the file's bytes
    alone (the rate, trimming and truncation change them)."""
    return hashlib.blake2b(np.ascontiguousarray(samples, dtype=np.float32).tobytes(), digest_size=16).hexdigest()


def pitch_copies(samples: np.ndarray, spec: SpectrogramConfig, semitones: list[float],
                 cache: AudioCache | None = None) -> list[PitchCopy]:
    """A copy of `samples` (N,) for each shift in `semitones` (0 is skipped), from `cache` when it has them."""
    base = samples_digest(samples)
    out = []
    for st in semitones:
        if st == 0:
            continue
        key = f"{base}-pitch{st:+g}"
        hit = cache.get(key) if cache is not None else None
        if hit is not None and isinstance(hit[1].get("ref_db"), (int, float)):
            out.append(PitchCopy(float(st), hit[0], float(hit[1]["ref_db"])))
            continue
        shifted = pitch_shift(samples, spec.sample_rate, st)
        ref = float(magnitude_db(torch.from_numpy(shifted)[None], spec).max()) if len(shifted) else spec.floor_db
        if cache is not None:
            cache.put(key, shifted, {"ref_db": ref, "semitones": float(st)})
        out.append(PitchCopy(float(st), shifted, ref))
    return out
