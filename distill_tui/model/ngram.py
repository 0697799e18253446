"""The same-level n-gram: each code given the previous one or two codes of its own level, Kneser-Ney smoothed.

The add-alpha bigram (`analysis/memorization.py`) spreads the same pseudo-count over every code after every
context, seen or not. Interpolated Kneser-Ney (Chen & Goodman's modified form: three discounts per order, from
the counts of counts) instead subtracts a discount from each seen count and gives the freed mass to the next
lower order, whose counts are continuation counts (in how many contexts a code was seen), down to the uniform
distribution. Order 2 is a bigram over the previous same-level code; order 3 a trigram over the previous two.

The context at a sound's start is the start symbol K (one per missing code), so a sound's first code is
predicted from (K, K) and its second from (K, first code). The table is dense, laid out per level by
`ngram_row` so the prior looks it up with the previous two same-level codes it reads (`SlotInputs.same`
and `same2`): it never reads a code generated after the one it predicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:  # the prior imports this module
    from .prior import PriorConfig

# The orders the folds choose among. The trigram only: as a blend part the Kneser-Ney bigram added nothing over the
# add-alpha bigram on pads-drums-20 (3 fold sets, honest gain 16.2 % with it, 16.2 % without), the trigram 1.5 points.
NGRAM_ORDERS = (3,)
MAX_NGRAM_ENTRIES = 1 << 22  # the stored table's floats (16 MB); larger codebooks have no n-gram part


def ngram_rows(cfg: PriorConfig) -> int:
    """Rows of the stored table: (K + 1) ** 2 contexts per level (previous two codes, each or the start symbol)."""
    return sum((k + 1) ** 2 for k in cfg.codebook_sizes)


def ngram_fits(cfg: PriorConfig) -> bool:
    """Whether the dense table (rows x largest codebook) is small enough to store."""
    return ngram_rows(cfg) * max(cfg.codebook_sizes) <= MAX_NGRAM_ENTRIES


def row_bases(cfg: PriorConfig) -> list[int]:
    """Each level's first row in the stored table."""
    return [0, *np.cumsum([(k + 1) ** 2 for k in cfg.codebook_sizes])[:-1].tolist()]


@dataclass
class Discounts:
    """Modified Kneser-Ney discounts of one order, for counts 1, 2 and 3 or more."""

    d1: float
    d2: float
    d3: float

    @classmethod
    def estimate(cls, counts: np.ndarray) -> Discounts:
        """Chen & Goodman's estimates from the counts of counts n1..n4 (clamped to [0, c] for count c)."""
        n = [float((counts == c).sum()) for c in (1, 2, 3, 4)]
        if n[0] == 0 or n[1] == 0:
            return cls(0.5, 1.0, 1.5)
        y = n[0] / (n[0] + 2 * n[1])
        d1 = 1 - 2 * y * n[1] / n[0]
        d2 = 2 - 3 * y * n[2] / n[1]
        d3 = 3 - 4 * y * n[3] / n[2] if n[2] else 1.5
        return cls(float(np.clip(d1, 0.05, 1)), float(np.clip(d2, 0.05, 2)), float(np.clip(d3, 0.05, 3)))

    def of(self, counts: np.ndarray) -> np.ndarray:
        """The discount of each count (0 for unseen)."""
        return np.select([counts >= 3, counts == 2, counts == 1], [self.d3, self.d2, self.d1], 0.0)


def _interpolate(counts: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """One Kneser-Ney order: counts (C, K) per context -> probabilities (C, K), backing off to `lower` (C, K)
    or (K,); a context never seen is `lower` itself."""
    disc = Discounts.estimate(counts[counts > 0]).of(counts)  # (C, K)
    total = counts.sum(axis=1, keepdims=True)  # (C, 1)
    safe = np.maximum(total, 1e-12)
    freed = disc.sum(axis=1, keepdims=True) / safe  # (C, 1): the mass given to the lower order
    p = (counts - disc) / safe + freed * lower
    return np.where(total > 0, p, np.broadcast_to(lower, counts.shape))


def level_ngram(rows: list[np.ndarray], k: int, order: int) -> np.ndarray:
    """Kneser-Ney probabilities of one level's codes: (K + 1, K + 1, K), indexed [previous-but-one, previous, code]
    with K the start symbol. Order 2 ignores the previous-but-one code (every slice is the same bigram)."""
    tri = np.zeros((k + 1, k + 1, k))  # (K + 1, K + 1, K) counts
    for row in rows:
        r = np.asarray(row, dtype=np.int64)
        if not r.size:
            continue
        padded = np.concatenate([[k, k], r])  # (N + 2,)
        np.add.at(tri, (padded[:-2], padded[1:-1], padded[2:]), 1)
    bi = tri.sum(axis=0)  # (K + 1, K) counts of (previous, code)
    cont_uni = (bi > 0).sum(axis=0).astype(np.float64)  # (K,): in how many contexts each code follows
    uniform = np.full(k, 1.0 / k)
    if cont_uni.sum() == 0:
        return np.broadcast_to(uniform, (k + 1, k + 1, k)).copy()
    p1 = _interpolate(cont_uni[None], uniform)[0]  # (K,)
    if order == 2:
        p2 = _interpolate(bi, p1)  # (K + 1, K): the highest order reads raw counts
        return np.broadcast_to(p2[None], (k + 1, k + 1, k)).copy()
    cont_bi = (tri > 0).sum(axis=0).astype(np.float64)  # (K + 1, K): distinct previous-but-one codes
    p2 = _interpolate(cont_bi, p1)  # (K + 1, K)
    lower = np.broadcast_to(p2[None], (k + 1, k + 1, k)).reshape(-1, k)  # row u * (K + 1) + v backs off to p2[v]
    return _interpolate(tri.reshape(-1, k), lower).reshape(k + 1, k + 1, k)


def ngram_table(cfg: PriorConfig, grids: list[np.ndarray], order: int) -> torch.Tensor:
    """The table as the prior stores it: (ngram_rows(cfg), largest K) log-probabilities; level q's context
    (previous-but-one u, previous v), each a local code or K_q, is row row_bases[q] + u * (K_q + 1) + v.
    Columns past a smaller level's K are 0 (masked by the callers)."""
    width = max(cfg.codebook_sizes)
    table = np.zeros((ngram_rows(cfg), width))
    for q, (base, k) in enumerate(zip(row_bases(cfg), cfg.codebook_sizes, strict=True)):
        p = level_ngram([g[q] for g in grids], k, order)  # (K + 1, K + 1, K)
        table[base : base + (k + 1) ** 2, :k] = np.log(p.reshape(-1, k))
    return torch.from_numpy(table).float()


def ngram_tables(cfg: PriorConfig, grids: list[np.ndarray], orders: tuple[int, ...] = NGRAM_ORDERS
                 ) -> dict[int, torch.Tensor]:
    """`ngram_table` per order, fitted once on `grids`; empty when the table would be too large to store."""
    return {o: ngram_table(cfg, grids, o) for o in orders} if ngram_fits(cfg) else {}


def ngram_row(cfg: PriorConfig, same: torch.Tensor, same2: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """The table's row for each slot from its previous and previous-but-one same-level codes (global ids, or
    V for none) and its level, all (B, T) long: (B, T) long."""
    off = torch.tensor(cfg.offsets, device=level.device)[level]  # (B, T)
    k = torch.tensor(cfg.codebook_sizes, device=level.device)[level]  # (B, T)
    base = torch.tensor(row_bases(cfg), device=level.device)[level]  # (B, T)
    v = torch.where(same >= cfg.vocab, k, same - off)  # (B, T) local code or the start symbol
    u = torch.where(same2 >= cfg.vocab, k, same2 - off)  # (B, T)
    return base + u * (k + 1) + v


class NgramPart(nn.Module):
    """The stored table (`table`, (R, K), the only tensor saved) and what sampling needs to read it fast: the
    table spread over the whole vocabulary with -inf outside each row's level (`full`, (R, V)), and each level's
    local code of every input id (`local`, (Q, V + 1), the start symbol K_q for NONE), rebuilt whenever the table
    is set or loaded."""

    def __init__(self, cfg: PriorConfig) -> None:
        super().__init__()
        self.register_buffer("table", torch.zeros(ngram_rows(cfg), max(cfg.codebook_sizes)))  # (R, K) log p
        self.register_buffer("full", torch.full((ngram_rows(cfg), cfg.vocab), -math.inf), persistent=False)  # (R, V)
        local = torch.zeros(cfg.levels, cfg.vocab + 1, dtype=torch.long)  # (Q, V + 1)
        for q, (off, k) in enumerate(zip(cfg.offsets, cfg.codebook_sizes, strict=True)):
            local[q, off : off + k] = torch.arange(k)
            local[q, cfg.vocab] = k
        self.register_buffer("local", local, persistent=False)
        self.register_buffer("base", torch.tensor(row_bases(cfg)), persistent=False)  # (Q,)
        self.register_buffer("width", torch.tensor(cfg.codebook_sizes) + 1, persistent=False)  # (Q,)
        self.spans = [(b, (k + 1) ** 2, off, k) for b, off, k in zip(row_bases(cfg), cfg.offsets, cfg.codebook_sizes,
                                                                       strict=True)]
        self.register_load_state_dict_post_hook(lambda module, _keys: module.spread())

    @torch.no_grad()
    def set(self, table: torch.Tensor) -> None:
        self.table.copy_(table)
        self.spread()

    @torch.no_grad()
    def spread(self) -> None:
        for base, rows, off, k in self.spans:
            self.full[base : base + rows, off : off + k] = self.table[base : base + rows, :k]

    def forward(self, same: torch.Tensor, same2: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (B, T, V), -inf outside each slot's level, from the previous two same-level codes
        (global ids or V for none) and the level, each (B, T)."""
        rows = self.base[level] + self.local[level, same2] * self.width[level] + self.local[level, same]  # (B, T)
        return self.full[rows]
