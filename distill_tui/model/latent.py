"""Latent-space math on a model's codes: codes -> latent, latent -> codes, blends, nearest codes, mappings.

This is what the editor's model-driven edits need from the quantizer (docs/architecture.md, decisions 4 and
16): the code document (`distill_tui.codes`) holds integers and never imports torch; the edits that think in
the latent space (blend, randomize to nearest codes, mapping codes between models) receive the objects
defined here through small protocols. Everything here reads the codebooks and never updates one.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..errors import BadInputError
from ..threads import torch_threads


class _ModelCodes(Protocol):
    """Anything that carries codes of one model: a `CodeGrid`, a `Clipboard`."""

    model_fingerprint: str
    codebook_sizes: list[int]


def nearest_codes(embeddings: np.ndarray, k: int) -> np.ndarray:
    """embeddings (K, D) -> (K, k): each code's k nearest other codes by Euclidean distance."""
    e = np.asarray(embeddings, dtype=np.float64)
    d = ((e[:, None, :] - e[None, :, :]) ** 2).sum(-1)  # (K, K)
    np.fill_diagonal(d, np.inf)
    k = max(1, min(k, len(e) - 1))
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def neighbours_by_level(quantizer: Any, levels: int, k: int) -> list[np.ndarray]:
    """Per level 0..levels-1, each code's k nearest other codes in the quantizer's embedding space ((K, k) each)."""
    return [nearest_codes(quantizer.embeddings(lv).detach().cpu().numpy(), k) for lv in range(levels)]


def plain_rvq(rvq: Any) -> bool:
    """True when the ResidualVQ is a plain sum of Euclidean codebooks (no projections, no cosine similarity)."""
    return isinstance(rvq.project_in, nn.Identity) and isinstance(rvq.project_out, nn.Identity) and all(
        isinstance(layer.project_in, nn.Identity) and isinstance(layer.project_out, nn.Identity)
        and not getattr(layer, "use_cosine_sim", False) for layer in rvq.layers
    )


def latent(quantizer: Any, codes: np.ndarray) -> torch.Tensor:
    """codes (B, Q, n) -> latent (B, n, D): the sum of each level's embedding."""
    with torch.no_grad():
        return quantizer.decode_indices(torch.as_tensor(np.asarray(codes), dtype=torch.long))


def requantize(quantizer: Any, z: torch.Tensor) -> np.ndarray:
    """Latent (B, n, D) -> codes (B, Q, n): greedy residual quantization, as the model's ResidualVQ does in eval mode.

    Without projections or cosine codebooks (Distill's configuration) it runs here as a few matrix
    products (the library's forward costs ~10x more on small inputs); otherwise through the library,
    in eval mode, giving the quantizer's training mode back afterwards. Never updates a codebook.
    """
    rvq = quantizer.rvq
    with torch.no_grad():
        if plain_rvq(rvq):
            b, n, d = z.shape
            r = z.reshape(b * n, d).float()  # (B * n, D) residual
            out = []
            for q in range(len(rvq.layers)):
                e = quantizer.embeddings(q).float()  # (K, D)
                dist = (e * e).sum(-1)[None] - 2 * r @ e.T  # (B * n, K); |r|^2 is the same for every code
                idx = dist.argmin(dim=-1)  # (B * n,)
                out.append(idx)
                r = r - e[idx]
            return torch.stack(out, dim=0).reshape(-1, b, n).permute(1, 0, 2).cpu().numpy().astype(np.int64)
        was_training = rvq.training
        rvq.eval()
        try:
            _, indices, _ = rvq(z.float())  # indices (B, n, Q)
        finally:
            rvq.train(was_training)
        return indices.transpose(1, 2).cpu().numpy().astype(np.int64)


def requantize_blend(quantizer: Any, a: np.ndarray, b: np.ndarray, amount: float) -> np.ndarray:
    """codes a, b (Q, n) -> codes (Q, n) of the latent (1 - amount) * z_a + amount * z_b.

    Runs on one torch thread: on a busy 2-core box a second thread only waits (a blend of 8 x 1000
    codes took 200-2000 ms on two threads, 2-4 ms on one).
    """
    with torch_threads(1):
        z = latent(quantizer, np.stack([a, b]))  # (2, n, D)
        mix = torch.lerp(z[0:1], z[1:2], float(amount))  # (1, n, D)
        return requantize(quantizer, mix)[0]


class EmbeddingMap:
    """Maps codes of a source model onto a target model through the shared latent space.

    Whole columns (every level) are decoded to latents and re-quantized by the target's residual
    quantizer, which also bridges different level counts and codebook sizes. Partial columns are
    mapped level by level to the nearest code of the same level. Only built when the user asks: the
    same index means a different sound in another model, so edits refuse other models' codes without one.
    """

    def __init__(self, source: Any, target: Any, source_fingerprint: str, target_fingerprint: str) -> None:
        """source, target: the models' `Quantizer`s (`codec.model.quantizer`)."""
        self.source, self.target = source, target
        self.source_fingerprint, self.target_fingerprint = source_fingerprint, target_fingerprint
        self.source_sizes = list(source.cfg.codebook_sizes)
        self.target_sizes = list(target.cfg.codebook_sizes)
        if source.cfg.latent_dim != target.cfg.latent_dim:
            raise BadInputError(
                f"cannot map codes from model {source_fingerprint} to model {target_fingerprint}: their latent "
                f"spaces differ in size ({source.cfg.latent_dim} vs {target.cfg.latent_dim})"
            )

    @classmethod
    def between(cls, source_codec: Any, target_codec: Any) -> EmbeddingMap:
        """The map from one loaded `Codec`'s codes to another's."""
        return cls(source_codec.model.quantizer, target_codec.model.quantizer, source_codec.fingerprint, target_codec.fingerprint)

    def check(self, source: _ModelCodes | None, target: _ModelCodes | None) -> None:
        """Refuse codes that are not of this map's source model, or a target of another model."""
        if source is not None and source.model_fingerprint != self.source_fingerprint:
            raise BadInputError(f"these codes are from model {source.model_fingerprint}, not {self.source_fingerprint} as the mapping expects")
        if target is not None and target.model_fingerprint != self.target_fingerprint:
            raise BadInputError(f"the target grid is from model {target.model_fingerprint}, not {self.target_fingerprint} as the mapping expects")

    def map_grid(self, codes: np.ndarray) -> np.ndarray:
        """Whole columns: codes (Qs, P) of the source -> (Qt, P) of the target."""
        z = latent(self.source, np.asarray(codes)[None])  # (1, P, D)
        return requantize(self.target, z)[0]

    def map_levels(self, rows: np.ndarray, level_start: int) -> np.ndarray:
        """Some levels: rows (L, P) of source levels level_start.. -> nearest codes of the same target levels.

        Empty cells (-1) stay empty.
        """
        out = np.full(rows.shape, -1, dtype=np.int64)  # (L, P)
        for i in range(rows.shape[0]):
            q = level_start + i
            if q >= len(self.target_sizes):
                raise BadInputError(f"level {q + 1} has no counterpart in model {self.target_fingerprint} "
                                    f"({len(self.target_sizes)} levels)")
            src = self.source.embeddings(q).cpu().numpy()  # (Ks, D)
            dst = self.target.embeddings(q).cpu().numpy()  # (Kt, D)
            d = ((src[:, None, :] - dst[None, :, :]) ** 2).sum(-1)  # (Ks, Kt)
            nearest = d.argmin(axis=1)  # (Ks,)
            have = rows[i] >= 0
            out[i, have] = nearest[rows[i, have]]
        return out
