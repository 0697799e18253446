"""Codebook health over a whole pass of the data, and what each level adds to the reconstruction."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..audio.spectrogram import sound_db
from ..config import SpectrogramConfig
from ..model.quantizer import LevelHealth, level_health, usage_counts
from ..model.vqvae import VQVAE, frame_distance_db


@dataclass
class HealthReport:
    """Per level: utilization, perplexity, dead codes; and the decode error with levels 1..k."""

    levels: list[LevelHealth]
    distance_db: list[float]  # [k] = model-domain distance decoding with levels 1..k (k = 0: none)
    counts: list[list[int]]  # per level, how often each code was used

    @property
    def level_gain_db(self) -> list[float]:
        """Per level, how much closer (dB) the decode gets when that level is added to the ones above."""
        d = self.distance_db
        return [round(d[k] - d[k + 1], 4) for k in range(len(d) - 1)]

    def as_dict(self) -> dict:
        """The health section of the model document (without `counts`, which the trainer adds)."""
        return {
            "utilization": [round(h.utilization, 4) for h in self.levels],
            "perplexity": [round(h.perplexity, 3) for h in self.levels],
            "dead_codes": [h.dead_codes for h in self.levels],
            "level_gain_db": self.level_gain_db,
            "distance_db_by_levels": [round(x, 4) for x in self.distance_db],
        }

    def healthy(self, min_utilization: float = 0.9, min_gain_db: float = 0.05) -> bool:
        """Every level uses at least `min_utilization` of its codes and adds at least `min_gain_db`."""
        return all(h.utilization >= min_utilization for h in self.levels) and all(
            g >= min_gain_db for g in self.level_gain_db
        )


@torch.no_grad()
def dataset_health(
    model: VQVAE,
    items: list[tuple[np.ndarray, float]],
    spec: SpectrogramConfig,
    device: str | torch.device = "cpu",
    max_frames: int = 8192,
) -> HealthReport:
    """Encode every item (audio, ref_db) in eval mode; count codes; decode with levels 1..k.

    Long items are processed in chunks of `max_frames` spectrogram frames to bound memory.
    """
    was_training = model.training
    model.eval()
    cfg = model.cfg
    all_codes: list[list[np.ndarray]] = [[] for _ in range(cfg.levels)]
    dist_sum = np.zeros(cfg.levels + 1)
    n_frames = 0
    try:
        for samples, ref in items:
            db_full = sound_db(samples, spec, ref, device)
            for start in range(0, db_full.shape[-1], max_frames):
                db = model.pad_frames(db_full[..., start : start + max_frames])
                codes = model.encode(db)  # (1, Q, P)
                for q in range(cfg.levels):
                    all_codes[q].append(codes[0, q].cpu().numpy())
                frames = db.shape[-1]
                for k in range(cfg.levels + 1):
                    pred = model.decode(codes, levels=k)  # k = 0: every level left out
                    dist_sum[k] += float(frame_distance_db(pred, db)[0]) * frames
                n_frames += frames
        # the silent columns every sound is encoded and decoded between use their codes too (the end-of-training
        # refill may point a code at silence, the vector farthest from the rest)
        silence = model.silence_codes().cpu().numpy()  # (Q,)
        for q in range(cfg.levels):
            all_codes[q].append(silence[q : q + 1])
    finally:
        model.train(was_training)
    levels, counts = [], []
    for q, size in enumerate(cfg.codebook_sizes):
        idx = np.concatenate(all_codes[q]) if all_codes[q] else np.zeros(0, dtype=np.int64)
        levels.append(level_health(idx, size))
        counts.append(usage_counts(idx, size).tolist())
    return HealthReport(levels=levels, distance_db=list(dist_sum / max(n_frames, 1)), counts=counts)


@torch.no_grad()
def continuous_distance_db(model: VQVAE, items: list[tuple[np.ndarray, float]], spec: SpectrogramConfig,
                           device: str | torch.device = "cpu") -> float:
    """The frame-weighted model-domain distance (dB) over every item (audio, ref_db) decoded through the
    continuous bottleneck (`model.cfg.quantize` false: the baseline that prices the quantizer), in eval mode."""
    was_training = model.training
    model.eval()
    total, frames = 0.0, 0
    try:
        for samples, ref in items:
            db = model.pad_frames(sound_db(samples, spec, ref, device))  # (1, n_bins, frames)
            total += float(frame_distance_db(model.reconstruct_continuous(db), db)[0]) * db.shape[-1]
            frames += db.shape[-1]
    finally:
        model.train(was_training)
    return total / max(frames, 1)


def level_health_dict(h: LevelHealth) -> dict:
    """One level's utilization, perplexity and dead codes as a dict."""
    return asdict(h)
