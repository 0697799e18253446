"""Scan a folder of sounds, preprocess them once (cached), split by file, and cut training crops."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..audio.io import is_audio_file, load_audio
from ..audio.spectrogram import magnitude_db, to_relative_db
from ..config import DatasetSummary, SpectrogramConfig
from ..errors import AudioError, BadInputError
from .cache import AudioCache

SILENT_PEAK = 1e-5  # -100 dBFS: nothing to learn from


@dataclass
class SoundFile:
    """One usable file: mono float32 at the model rate, peak-normalized to -1 dBFS."""

    path: Path
    digest: str
    samples: np.ndarray  # (N,) float32
    ref_db: float  # the loudest STFT bin in dB: the 0 dB of this sound's relative log-magnitudes


@dataclass
class ScanResult:
    files: list[SoundFile]
    skipped: list[dict[str, str]]  # {"path":..., "reason":...}
    notes: list[str] = field(default_factory=list)  # e.g. truncated files
    cached: int = 0  # how many came from the cache

    def summary(self, root: Path, sample_rate: int) -> DatasetSummary:
        seconds = sum(len(f.samples) for f in self.files) / sample_rate
        return DatasetSummary(files=len(self.files), minutes=round(seconds / 60, 4), skipped=self.skipped, root=str(root))


def find_audio(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise BadInputError("no such folder", root)
    return sorted(p for p in root.rglob("*") if p.is_file() and is_audio_file(p) and ".distill-cache" not in p.parts)


def scan(
    root: str | Path,
    spec: SpectrogramConfig,
    *,
    max_file_seconds: float = 600.0,
    trim_silence: bool = False,
    cache: AudioCache | None = None,
    progress=None,
) -> ScanResult:
    """Read every audio file under `root` (recursively) once; unreadable files are skipped with the reason."""
    root = Path(root)
    paths = find_audio(root)
    if cache is None:
        cache = AudioCache({"sr": spec.sample_rate, "max": max_file_seconds, "trim": trim_silence, "norm": "peak",
                            "n_fft": spec.n_fft, "hop": spec.hop_length, "v": 2})
    result = ScanResult(files=[], skipped=[])
    for i, path in enumerate(paths):
        if progress:
            progress(i, len(paths), path)
        try:
            digest = cache.hash_for(path)
        except OSError as exc:
            result.skipped.append({"path": str(path), "reason": f"cannot read ({exc.strerror})"})
            continue
        hit = cache.get(digest)
        if hit is not None:
            samples, info = hit
            result.cached += 1
            if info.get("truncated"):
                result.notes.append(f"{path}: longer than {max_file_seconds:g} s, only the start is used")
        else:
            try:
                loaded = load_audio(path, spec.sample_rate, max_seconds=max_file_seconds, trim_silence=trim_silence)
            except AudioError as exc:
                result.skipped.append({"path": str(path), "reason": exc.reason})
                continue
            samples = loaded.samples
            peak = float(np.abs(samples).max())
            if peak < SILENT_PEAK:
                result.skipped.append({"path": str(path), "reason": "all silent"})
                continue
            samples = (samples * (10 ** (-1 / 20) / peak)).astype(np.float32)
            info = {"truncated": loaded.truncated, "source_rate": loaded.source_sample_rate,
                    "ref_db": float(magnitude_db(torch.from_numpy(samples)[None], spec).max())}
            if loaded.truncated:
                result.notes.append(f"{path}: longer than {max_file_seconds:g} s, only the start is used")
            cache.put(digest, samples, info)
        ref = info.get("ref_db")
        if ref is None:
            ref = float(magnitude_db(torch.from_numpy(samples)[None], spec).max())
        result.files.append(SoundFile(path=path, digest=digest, samples=samples, ref_db=float(ref)))
    cache.flush()
    if not result.files:
        why = "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in result.skipped[:3])
        raise BadInputError(f"no usable audio files ({len(paths)} found{', ' + why if why else ''})", root)
    return result


@dataclass
class Split:
    """Train/validation by file; with fewer than `min_files_for_file_split` files, by held-out crops."""

    train: list[SoundFile]
    val: list[SoundFile]
    by_file: bool
    holdout_samples: int = 0  # with by_file False: the last this-many samples of long files are validation only


def split(files: list[SoundFile], crop_samples: int, seed: int = 0, min_files_for_file_split: int = 8) -> Split:
    if len(files) >= min_files_for_file_split:
        order = sorted(files, key=lambda f: f.digest)
        random.Random(seed).shuffle(order)
        n_val = max(1, round(0.1 * len(files)))
        return Split(train=order[n_val:], val=order[:n_val], by_file=True)
    return Split(train=list(files), val=list(files), by_file=False, holdout_samples=crop_samples)


class CropSampler:
    """Random fixed-length crops; shorter files are zero-padded at the end, never dropped.

    Batches come back as model input: relative log-magnitude, (B, F, crop_frames), in dB.
    """

    def __init__(self, sp: Split, spec: SpectrogramConfig, crop_frames: int, seed: int = 0) -> None:
        self.spec = spec
        self.crop_frames = crop_frames
        self.crop_samples = (crop_frames - 1) * spec.hop_length
        self.rng = np.random.default_rng(seed)
        self.files = sp.train
        self.holdout = 0 if sp.by_file else sp.holdout_samples
        lengths = np.array([max(len(f.samples), self.crop_samples) for f in self.files], dtype=np.float64)
        self.weights = np.sqrt(lengths) / np.sqrt(lengths).sum()  # long files a bit more often, short ones still seen

    def _usable(self, f: SoundFile) -> np.ndarray:
        if self.holdout and len(f.samples) >= 3 * self.crop_samples:
            return f.samples[: len(f.samples) - self.holdout]
        return f.samples

    def crop(self, f: SoundFile) -> np.ndarray:
        x = self._usable(f)
        out = np.zeros(self.crop_samples, dtype=np.float32)
        if len(x) <= self.crop_samples:
            out[: len(x)] = x
        else:
            start = int(self.rng.integers(0, len(x) - self.crop_samples + 1))
            out[:] = x[start : start + self.crop_samples]
        return out

    def batch(self, batch_size: int) -> torch.Tensor:
        idx = self.rng.choice(len(self.files), size=batch_size, p=self.weights)
        audio = torch.from_numpy(np.stack([self.crop(self.files[i]) for i in idx]))  # (B, N)
        refs = torch.tensor([self.files[i].ref_db for i in idx])
        return to_relative_db(magnitude_db(audio, self.spec), self.spec.floor_db, refs)  # (B, F, crop_frames)


def validation_items(sp: Split) -> list[tuple[np.ndarray, float]]:
    """(audio, ref_db) for validation: whole held-out files, or the held-out tail of each long file."""
    if sp.by_file:
        return [(f.samples, f.ref_db) for f in sp.val]
    items = []
    for f in sp.val:
        if len(f.samples) >= 3 * sp.holdout_samples:
            items.append((f.samples[len(f.samples) - sp.holdout_samples :], f.ref_db))
        else:
            items.append((f.samples, f.ref_db))
    return items
