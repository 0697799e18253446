"""A trained residual quantizer's codebooks, for encoding and decoding without vector-quantize-pytorch.

Training needs the library (EMA updates, k-means start, dead codes). A loaded model only looks codes up
and finds nearest codes, and importing the library (it imports einx, which imports sympy) cost 0.8-1.1 s
of every command's start and of the editor's model load on a 2-core Zen 3 (bench/RESULTS.md, nineteenth
session). `StoredCodebooks` holds the same buffers under the same names as the library's `ResidualVQ` built
the way `Quantizer` builds it, so a model file loads into it strictly, and it encodes as the library does in
eval mode, with the library's own distance arithmetic: the same codes, bit for bit
(tests/test_vqvae.py checks it on real sounds).
"""

from __future__ import annotations

import torch
from torch import nn


def library_distances(x: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
    """x (N, D), embed (K, D) -> (N, K) Euclidean distances as vector-quantize-pytorch computes them when
    it encodes (its `cdist`): |x|^2 + |e|^2 - 2 x.e, floored at 1e-8, square root. Near a large vector this
    is off by far more than torch.cdist; using it here makes "in use" mean what encoding will do."""
    x, embed = x.float()[None], embed.float()[None]  # (1, N, D), (1, K, D): the library's shapes
    xy = torch.einsum("bid,bjd->bij", x, embed) * -2  # (1, N, K)
    return ((x**2).sum(-1)[..., None] + (embed**2).sum(-1)[:, None, :] + xy).clamp(min=1e-8).sqrt()[0]


class _Codebook(nn.Module):
    """One level's buffers, named and shaped as the library's codebook stores them."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("initted", torch.tensor(True))
        self.register_buffer("cluster_size", torch.zeros(1, size))
        self.register_buffer("embed_avg", torch.zeros(1, size, dim))
        self.register_buffer("embed", torch.zeros(1, size, dim))  # (1, K, D): the codes' vectors


class _Level(nn.Module):
    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self._codebook = _Codebook(size, dim)
        self.project_in = nn.Identity()
        self.project_out = nn.Identity()


class StoredCodebooks(nn.Module):
    """Residual VQ over latent vectors (B, T, D) from stored codebooks: greedy nearest code level by level.

    It never changes a codebook, in either mode; a model that trains is built with the library
    (`Quantizer(cfg)`)."""

    def __init__(self, dim: int, codebook_sizes: list[int]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_Level(size, dim) for size in codebook_sizes)
        self.project_in = nn.Identity()
        self.project_out = nn.Identity()
        self.num_quantizers = len(codebook_sizes)
        self.quantize_dropout = False

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T, D) -> quantized (B, T, D), indices (B, T, Q), losses (Q,) (zeros: nothing is learned)."""
        b, t, d = x.shape
        residual = x.float().reshape(b * t, d)  # (N, D)
        quantized = torch.zeros_like(residual)
        indices = []
        for layer in self.layers:
            embed = layer._codebook.embed[0]  # (K, D)
            idx = (-library_distances(residual, embed)).argmax(dim=-1)  # (N,): the library's choice, ties included
            vectors = embed[idx]  # (N, D)
            residual = residual - vectors
            quantized = quantized + vectors
            indices.append(idx)
        codes = torch.stack(indices, dim=-1).reshape(b, t, len(self.layers))  # (B, T, Q)
        return quantized.reshape(b, t, d), codes, x.new_zeros(len(self.layers))
