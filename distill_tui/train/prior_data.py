"""Stage 2's data: every sound encoded by the frozen VQ-VAE (cached), augmented copies, windows to train on."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soxr
import torch

from ..data.dataset import SoundFile
from ..errors import OutputError
from ..fileio import atomic_write
from ..inference.codec import Codec
from ..locations import cache_dir
from ..model.prior import (
    PriorConfig,
    PriorModel,
    SlotInputs,
    corrupt_inputs,
    flatten_codes,
    sequences_nll,
    slot_inputs,
)


# ------------------------------------------------------------------ encoding (cached)
class GridEncoder:
    """Encodes audio with the frozen VQ-VAE in eval mode; grids cached by fingerprint + file digest + augmentation."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.root = cache_dir() / "prior-codes" / codec.fingerprint
        self.hits = 0

    def encode(self, samples: np.ndarray, key: str) -> np.ndarray | None:
        path = self.root / f"{key}.npy"
        try:
            grid = np.load(path, allow_pickle=False)
            if grid.ndim == 2 and grid.shape[0] == self.codec.cfg.levels:
                self.hits += 1
                return grid
        except (OSError, ValueError):
            pass
        if len(samples) == 0 or float(np.abs(samples).max()) <= 1e-5:
            return None
        grid = self.codec.encode_samples(samples.astype(np.float32)).codes
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda fh: np.save(fh, grid, allow_pickle=False), "code cache")
        except (OSError, OutputError):
            pass  # a cache that cannot be written only costs time
        return grid


def pitch_shift(samples: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """Resampling shift: up in pitch is also shorter in time (like a sampler's repitch)."""
    ratio = 2 ** (semitones / 12)
    return soxr.resample(samples, sample_rate, sample_rate / ratio).astype(np.float32)


def gain(samples: np.ndarray, db: float) -> np.ndarray:
    """Louder or softer by `db`; the peak is clipped at full scale."""
    return np.clip(samples * 10 ** (db / 20), -1.0, 1.0).astype(np.float32)


def time_shift(samples: np.ndarray, hop: int, share: float) -> np.ndarray:
    """Delayed by `share` of a code column (`hop` samples): the same sound on another frame grid."""
    n = int(round(share * hop))
    return np.concatenate([np.zeros(n, dtype=np.float32), samples]).astype(np.float32)


@dataclass
class FileCodes:
    """Every usable sound's grid (levels, positions) and the augmented grids, each with the files it came from."""

    names: list[str]  # one per usable file
    grids: list[np.ndarray]
    augmented: list[np.ndarray]
    sources: list[frozenset[int]]  # per augmented grid: indices into `grids`
    kinds: list[str] = field(default_factory=list)  # per augmented grid: "pitch+1", "gain-6", "shift0.5", "mix"
    cached: int = 0

    def fold(self, held_out: list[int]) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """(train, held-out, augmented from training files only) for the held-out file indices."""
        out = set(held_out)
        train = [g for i, g in enumerate(self.grids) if i not in out]
        val = [self.grids[i] for i in held_out]
        aug = [g for g, src in zip(self.augmented, self.sources, strict=True) if not src & out]
        return train, val, aug


def encode_files(codec: Codec, files: list[SoundFile], tc: Any) -> FileCodes:
    """All sounds encoded, with augmented copies of each (pitch, gain, time shift) and mixtures of pairs.

    `tc` is a `PriorTrainConfig`. The mixtures are drawn once from all files; a fold keeps those whose
    both sources are training files (`FileCodes.fold`), so nothing of a held-out sound leaks into training.
    """
    enc = GridEncoder(codec)
    sr, hop = codec.spec.sample_rate, codec.spec.hop_length * codec.cfg.stride
    kept = [(f, g) for f in files if (g := enc.encode(f.samples, f"{f.digest}-orig")) is not None]
    out = FileCodes([str(f.path) for f, _ in kept], [g for _, g in kept], [], [])
    if not tc.augment:
        out.cached = enc.hits
        return out

    def add(grid: np.ndarray | None, src: set[int], kind: str) -> None:
        if grid is not None:
            out.augmented.append(grid)
            out.sources.append(frozenset(src))
            out.kinds.append(kind)

    for i, (f, _) in enumerate(kept):
        for st in tc.pitch_semitones:
            add(enc.encode(pitch_shift(f.samples, sr, st), f"{f.digest}-pitch{st:+g}"), {i}, f"pitch{st:+g}")
        for db in tc.gain_db:
            add(enc.encode(gain(f.samples, db), f"{f.digest}-gain{db:+g}"), {i}, f"gain{db:+g}")
        for share in tc.time_shifts:
            add(enc.encode(time_shift(f.samples, hop, share), f"{f.digest}-shift{share:g}"), {i}, f"shift{share:g}")
    rng = random.Random(tc.seed)
    n_mix = round(tc.mixes_per_file * len(kept)) if len(kept) > 1 else 0
    for _ in range(n_mix):
        (ia, (a, _)), (ib, (b, _)) = rng.sample(list(enumerate(kept)), 2)
        level = round(rng.uniform(0.4, 1.0), 2)
        n = max(len(a.samples), len(b.samples))
        mix = np.zeros(n, dtype=np.float32)
        mix[: len(a.samples)] += a.samples
        mix[: len(b.samples)] += level * b.samples
        add(enc.encode(mix, f"{a.digest}-mix-{b.digest[:12]}-{level:.2f}"), {ia, ib}, "mix")
    out.cached = enc.hits
    return out


# ------------------------------------------------------------------ batches
class WindowSampler:
    """Random training windows of `context` positions; some start where their sound starts."""

    def __init__(self, cfg: PriorConfig, grids: list[np.ndarray], start_share: float, seed: int) -> None:
        self.cfg = cfg
        self.seqs = [torch.from_numpy(flatten_codes(g, cfg)) for g in grids if g.shape[1] > 0]
        lengths = np.array([len(s) // cfg.levels for s in self.seqs], dtype=np.float64)
        self.weights = np.sqrt(lengths) / np.sqrt(lengths).sum()  # long sounds a bit more often
        self.start_share = start_share
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)

    def batch(self, batch_size: int, corrupt: float) -> tuple[SlotInputs, torch.Tensor]:
        cfg, q, width = self.cfg, self.cfg.levels, self.cfg.context * self.cfg.levels
        parts, targets = [], []
        for i in self.rng.choice(len(self.seqs), size=batch_size, p=self.weights):
            s = self.seqs[i]
            positions = len(s) // q
            if positions < 2 or self.rng.random() < self.start_share:
                w0 = 0
            else:
                w0 = int(self.rng.integers(1, max(2, positions - cfg.context // 2 + 1)))
            i1 = min(len(s), (w0 + cfg.context) * q)
            x = slot_inputs(cfg, s[None], w0, w0 * q, i1)
            pad = width - (i1 - w0 * q)
            parts.append([torch.nn.functional.pad(t, (0, pad)) for t in (x.tok, x.same, x.level, x.time)])
            targets.append(torch.nn.functional.pad(s[None, w0 * q : i1], (0, pad), value=-1))
        x = SlotInputs(*(torch.cat([p[j] for p in parts]) for j in range(4)))  # each (B, T)
        return corrupt_inputs(cfg, x, corrupt, self.gen), torch.cat(targets)  # (B, T)


def perplexity(model: PriorModel, grids: list[np.ndarray]) -> float:
    was = model.training
    model.eval()
    total, n = sequences_nll(model, [torch.from_numpy(flatten_codes(g, model.cfg)) for g in grids])
    model.train(was)
    return math.exp(total / max(n, 1))
