"""ResidualVQ (vector-quantize-pytorch) behind a small interface, plus codebook health statistics.

Pitfalls handled here (docs/architecture.md, decision 4): dead-code replacement is switched on;
k-means init is fed one large batch (`kmeans_init_`) with quantizer dropout off so that every level
initializes on it; indices are taken in eval mode only (train mode with dropout yields -1); decoding sums
the levels' codebook vectors here rather than through `get_output_from_indices`, which builds an einx graph for
each new input shape (35-60 ms the first time a sound of a new length is decoded); a level is muted by passing
-1 for its indices.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import sys
import types
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from .codebooks import StoredCodebooks, library_distances
from .latent import plain_rvq, requantize_blend

logging.getLogger("vector_quantize_pytorch").setLevel(logging.ERROR)


def residual_vq_class() -> type[nn.Module]:
    """vector-quantize-pytorch's `ResidualVQ`, imported the first time a model is built.

    The library imports einx, whose torch backend, built at import when torch is already loaded, marks einx's
    operations for `torch.compile` with `torch.compiler.allow_in_graph`; that call imports `torch._dynamo`,
    1.3-1.5 s of the start of training on a 2-core Zen 3 (bench/RESULTS.md, "Fifteenth session"; see also
    `train/adamw.py`; a loaded model does not import the library at all, see `codebooks.py`). Nothing
    in Distill compiles the quantizer, so the marking is skipped while the library is imported: einx's
    operations then stay outside compiled graphs, which only a caller of `torch.compile` would notice.
    """
    if "vector_quantize_pytorch" not in sys.modules:
        mark = torch.compiler.allow_in_graph
        torch.compiler.allow_in_graph = lambda fn: fn  # einx's only use of it: marking its own operations
        if "sympy" not in sys.modules and importlib.util.find_spec("sympy") is not None:
            sys.modules["sympy"] = ImportedOnUse("sympy")  # einx imports it, and training never reads it
        try:
            import vector_quantize_pytorch  # noqa: F401
        finally:
            torch.compiler.allow_in_graph = mark
    from vector_quantize_pytorch import ResidualVQ

    return ResidualVQ


class ImportedOnUse(types.ModuleType):
    """Stands for a module that has not been imported yet, and imports it when one of its names is first read.

    einx (imported by vector-quantize-pytorch) imports sympy at its own import, 0.6-0.7 s of the start of training
    on a 2-core Zen 3 (bench/RESULTS.md, "Twentieth session"), but reads it only to solve shape equations that
    its simpler rules leave open, which training's quantizer never asks of it. On the first name read, the real
    module is imported, takes this one's place in `sys.modules`, and its names are copied here for whoever kept
    this one (`import sympy.core` and `from sympy import X` reach the real module the same way)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__spec__ = importlib.util.find_spec(name)  # as the real one's: `find_spec` answers the same

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update({k: v for k, v in vars(real).items() if k != "__name__"})
        return getattr(real, name)


@dataclass
class QuantizeResult:
    quantized: torch.Tensor  # (B, T, D)
    indices: torch.Tensor | None  # (B, T, Q), or None for the continuous baseline
    commit_loss: torch.Tensor  # scalar, already weighted


REFILL_PASSES = 16  # rounds of refilling a level; each is one (N, K) distance matrix
TIE_DISTANCE = 1e-3  # below this the library's distance (float32, floored at 1e-4) cannot tell two codes apart


class Quantizer(nn.Module):
    """Residual VQ over latent vectors (B, T, D); or a pass-through when `cfg.quantize` is False.

    `trainable=False` holds the codebooks in `StoredCodebooks` (encoding and decoding only, without importing
    vector-quantize-pytorch): what a loaded model uses. The training methods need the library's."""

    def __init__(self, cfg: ModelConfig, trainable: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.rvq = None
        if cfg.quantize and not trainable:
            self.rvq = StoredCodebooks(cfg.latent_dim, list(cfg.codebook_sizes))
        elif cfg.quantize:
            self.rvq = residual_vq_class()(
                dim=cfg.latent_dim,
                num_quantizers=cfg.levels,
                codebook_size=tuple(cfg.codebook_sizes),
                decay=cfg.ema_decay,
                commitment_weight=cfg.commitment_weight,
                kmeans_init=cfg.kmeans_init,
                kmeans_iters=10,
                threshold_ema_dead_code=cfg.dead_code_threshold,
                quantize_dropout=float(cfg.quantize_dropout) > 0 and cfg.levels > 1,
            )

    def forward(self, z: torch.Tensor) -> QuantizeResult:
        if self.rvq is None:
            return QuantizeResult(quantized=z, indices=None, commit_loss=z.new_zeros(()))
        p = float(self.cfg.quantize_dropout)
        if self.training and 0.0 < p < 1.0 and self.cfg.levels > 1:
            # this step drops levels with probability p (drawn from torch's generator: --seed holds)
            self.rvq.quantize_dropout = bool(torch.rand(()) < p)
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

    @torch.no_grad()
    def refill_dead_codes_(self, z: torch.Tensor) -> list[int]:
        """Point every code that no vector of `z` (N, D) chooses at the vectors its level quantizes worst.

        The dead-code replacement of training, done once over the whole dataset instead of one batch:
        level by level, each unused code takes the residual farthest from every code so far (farthest
        point, so two new codes never land on the same spot), and the next level sees the residuals of
        the refilled one. Distances are the library's own (`library_distances`), so a code counted in use
        here is one that encoding chooses: with torch's exact `cdist`, two codes a rounding error apart both
        looked used, and encoding gave every vector to one of them. Returns how many codes each level
        refilled.
        """
        if self.rvq is None:
            return []
        if len(z) > 65536:  # bounds the (N, K) distances; a fixed subset keeps it deterministic
            z = z[torch.randperm(len(z), generator=torch.Generator().manual_seed(0))[:65536].to(z.device)]
        residual = self.rvq.project_in(z.float())
        refilled = []
        for layer in self.rvq.layers:
            cb = layer._codebook
            embed = cb.embed[0]  # (K, D), a view: writing it writes the codebook
            total = 0
            for _ in range(REFILL_PASSES):  # a code that lost all its vectors to new ones is dead in turn: go again
                dist = library_distances(residual, embed)  # (N, K)
                counts = torch.bincount(dist.argmin(dim=1), minlength=embed.shape[0])
                dead = torch.nonzero(counts == 0).flatten().tolist()
                err = dist.min(dim=1).values  # (N,) distance of each vector to its code
                placed = 0
                for code in dead:
                    worst = int(err.argmax())
                    if float(err[worst]) <= TIE_DISTANCE:
                        break
                    vec = residual[worst]
                    embed[code] = vec
                    cb.embed_avg.data[0, code] = vec * cb.reset_cluster_size
                    cb.cluster_size.data[0, code] = cb.reset_cluster_size
                    err = torch.minimum(err, library_distances(residual, vec[None])[:, 0])
                    placed += 1
                total += placed
                if not placed:
                    break
            refilled.append(total)
            residual = residual - embed[library_distances(residual, embed).argmin(dim=1)]
        return refilled

    def decode_indices(self, indices: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """indices: (B, Q, T) -> latent (B, T, D), the sum of each level's codebook vector; an index of -1, and
        every level past `levels`, adds nothing (muted)."""
        assert self.rvq is not None, "the continuous baseline has no codes"
        idx = indices.long()
        used = idx.shape[1] if levels is None else min(levels, idx.shape[1])
        if not plain_rvq(self.rvq):  # projections or cosine codebooks: the library knows how
            idx = idx.transpose(1, 2)  # (B, T, Q)
            if used < idx.shape[-1]:
                idx = idx.clone()
                idx[..., used:] = -1
            return self.rvq.get_output_from_indices(idx)
        out = idx.new_zeros((), dtype=torch.float32).expand(idx.shape[0], idx.shape[2], self.cfg.latent_dim)
        for q in range(used):
            row = idx[:, q]  # (B, T)
            vectors = self.rvq.layers[q]._codebook.embed[0][row.clamp(min=0)]  # (B, T, D)
            out = out + vectors.masked_fill((row < 0)[..., None], 0.0)
        return out

    def embeddings(self, level: int) -> torch.Tensor:
        """The codebook of one level, (K, D), in latent space."""
        assert self.rvq is not None
        return self.rvq.layers[level]._codebook.embed[0].detach()

    def blend_codes(self, a: np.ndarray, b: np.ndarray, amount: float) -> np.ndarray:
        """codes a, b (Q, n) -> the codes (Q, n) of the latent (1 - amount) * z_a + amount * z_b.

        What the editor's `Blend` edit asks of a model (`codes.edit_base.LatentBlender`).
        """
        assert self.rvq is not None, "the continuous baseline has no codes"
        return requantize_blend(self, a, b, amount)


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
