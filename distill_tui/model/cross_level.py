"""The cross-level table: each code given the code of the slot before it (level l - 1 at the same time).

The prior reads a grid time-major with levels interleaved (`model/prior.py`): slot t * Q + l holds
level l at time t, and the slot before it holds level l - 1 at time t. For a finer level the
previous slot is therefore the coarser code of the same column, the residual code's natural context;
for level 1 it is the finest code of the previous column (a weak context, so the blend gives it
little or no weight). The table is an add-alpha count model of those pairs, laid out by the
network's input `SlotInputs.tok` (a code's global id, or one of the two start tokens), so the
prior looks it up with the token it already reads and the interleaved sampling order is unchanged:
the table never reads a code that is generated after the one it predicts.

Measured on pads-drums-20 (5 folds by file, bench/RESULTS.md): alone it predicts level 2 worse
than the same-level bigram (4.41 against 4.00 nats per code) and level 3 better (3.92 against 4.10);
linearly mixed with the bigram, both gain (3.93 and 3.80).
"""

from __future__ import annotations

import numpy as np
import torch

from .prior import PriorConfig, flatten_codes

CROSS_ALPHAS = (0.3, 1.0)  # add-alpha candidates; the folds choose (counts analysis: 0.1-1 within 0.01 nats)


def slot_pair_counts(grids: list[np.ndarray], cfg: PriorConfig) -> np.ndarray:
    """Counts (V + 2, V) of (previous slot's token, this slot's token) over whole grids read time-major.

    Row V is "sound starts here" (followed by each grid's first level-1 code); row V + 1, the
    mid-sound start token a sliding window begins with, counts every level-1 code (the level's unigram).
    """
    v = cfg.vocab
    counts = np.zeros((v + 2, v), dtype=np.float64)  # (V + 2, V)
    for g in grids:
        seq = flatten_codes(g, cfg)  # (N,)
        if not seq.size:
            continue
        counts[v, seq[0]] += 1
        np.add.at(counts, (seq[:-1], seq[1:]), 1)
        np.add.at(counts[v + 1], seq[:: cfg.levels], 1)
    return counts


def cross_table(cfg: PriorConfig, grids: list[np.ndarray], alpha: float) -> torch.Tensor:
    """The add-`alpha` table as the prior reads it: (V + 2, V) log-probabilities, row = previous slot's token.

    Each row covers the codes of the level that follows the row's token (level 1 after the start
    tokens and after the finest level); entries outside that block are 0, masked by the callers.
    """
    counts = slot_pair_counts(grids, cfg)
    q = cfg.levels
    table = np.zeros_like(counts)  # (V + 2, V)
    level_of = np.concatenate([np.full(k, lv) for lv, k in enumerate(cfg.codebook_sizes)])  # (V,)
    next_level = np.concatenate([(level_of + 1) % q, [0, 0]])  # (V + 2,): the level each row predicts
    for row, lv in enumerate(next_level.tolist()):
        lo, k = cfg.offsets[lv], cfg.codebook_sizes[lv]
        c = counts[row, lo : lo + k]
        table[row, lo : lo + k] = np.log((c + alpha) / (c.sum() + alpha * k))
    return torch.from_numpy(table).float()


def cross_tables(cfg: PriorConfig, grids: list[np.ndarray], alphas: tuple[float, ...] = CROSS_ALPHAS
                 ) -> dict[float, torch.Tensor]:
    """`cross_table` per alpha, fitted once on `grids`."""
    return {a: cross_table(cfg, grids, a) for a in alphas}
