"""ResidualVQ (vector-quantize-pytorch) behind a small interface, plus codebook health statistics.

Pitfalls handled here (design.md §4): dead-code replacement is switched on; k-means init is fed
one large batch (`kmeans_init_`) with quantizer dropout off so that every level initializes on
it; indices are taken in eval mode only (train mode with dropout yields -1); decoding goes
through `get_output_from_indices`; a level is muted by passing -1 for its indices.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig

logging.getLogger("vector_quantize_pytorch").setLevel(logging.ERROR)


@dataclass
class QuantizeResult:
    quantized: torch.Tensor  # (B, T, D)
    indices: torch.Tensor | None  # (B, T, Q), or None for the continuous baseline
    commit_loss: torch.Tensor  # scalar, already weighted


class Quantizer(nn.Module):
    """Residual VQ over latent vectors (B, T, D); or a pass-through when `cfg.quantize` is False."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.rvq = None
        if cfg.quantize:
            from vector_quantize_pytorch import ResidualVQ

            self.rvq = ResidualVQ(
                dim=cfg.latent_dim,
                num_quantizers=cfg.levels,
                codebook_size=tuple(cfg.codebook_sizes),
                decay=cfg.ema_decay,
                commitment_weight=cfg.commitment_weight,
                kmeans_init=cfg.kmeans_init,
                kmeans_iters=10,
                threshold_ema_dead_code=cfg.dead_code_threshold,
                quantize_dropout=cfg.quantize_dropout and cfg.levels > 1,
            )

    def forward(self, z: torch.Tensor) -> QuantizeResult:
        if self.rvq is None:
            return QuantizeResult(quantized=z, indices=None, commit_loss=z.new_zeros(()))
        with torch.autocast(device_type=z.device.type, enabled=False):  # quantization runs in float32
            quantized, indices, losses = self.rvq(z.float())
        return QuantizeResult(quantized=quantized, indices=indices, commit_loss=losses.sum())

    @torch.no_grad()
    def kmeans_init_(self, z: torch.Tensor) -> None:
        """Initialize every level's codebook by k-means on one large batch z: (1, N, D)."""
        if self.rvq is None:
            return
        dropout, self.rvq.quantize_dropout = self.rvq.quantize_dropout, False
        was_training = self.rvq.training
        self.rvq.train()
        try:
            self.rvq(z.float())
        finally:
            self.rvq.quantize_dropout = dropout
            self.rvq.train(was_training)

    @torch.no_grad()
    def reinit_level_(self, level: int) -> None:
        """Forget a collapsed level's codebook; k-means re-initializes it on the next training batch."""
        if self.rvq is None:
            return
        cb = self.rvq.layers[level]._codebook
        cb.initted.data.copy_(torch.tensor(False))

    def decode_indices(self, indices: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """indices: (B, Q, T) -> latent (B, T, D); levels > `levels` are left out (muted)."""
        assert self.rvq is not None, "the continuous baseline has no codes"
        idx = indices.transpose(1, 2).long()  # (B, T, Q)
        if levels is not None and levels < idx.shape[-1]:
            idx = idx.clone()
            idx[..., levels:] = -1
        return self.rvq.get_output_from_indices(idx)

    def embeddings(self, level: int) -> torch.Tensor:
        """The codebook of one level, (K, D), in latent space."""
        assert self.rvq is not None
        return self.rvq.layers[level]._codebook.embed[0].detach()


@dataclass
class LevelHealth:
    """Codebook health of one level over a whole pass of the data."""

    utilization: float  # codes used / codebook size
    perplexity: float  # exp(entropy of code usage)
    dead_codes: int  # codes never used


def level_health(indices: np.ndarray, codebook_size: int) -> LevelHealth:
    """indices: any shape, the codes one level produced over the whole dataset."""
    counts = np.bincount(indices.reshape(-1).astype(np.int64), minlength=codebook_size)[:codebook_size]
    used = int((counts > 0).sum())
    p = counts / max(counts.sum(), 1)
    nz = p[p > 0]
    entropy = float(-(nz * np.log(nz)).sum())
    return LevelHealth(utilization=used / codebook_size, perplexity=math.exp(entropy), dead_codes=codebook_size - used)


def usage_counts(indices: np.ndarray, codebook_size: int) -> np.ndarray:
    return np.bincount(indices.reshape(-1).astype(np.int64), minlength=codebook_size)[:codebook_size]
