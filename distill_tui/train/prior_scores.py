"""Held-out scores per level, read with generation's windows: the network alone, and blended with counts.

The blends (`BLEND_CANDIDATES`) join the network with the same-level bigram of the training codes and,
for a linear blend, with the cross-level table (model/cross_level.py); `train/prior_folds.py` chooses
among them on the folds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.memorization import ALPHAS, bigram_log_tables
from ..model.cross_level import CROSS_ALPHAS, cross_tables
from ..model.prior import (
    PriorConfig,
    PriorModel,
    SlotInputs,
    bigram_table,
    blend_logp,
    flatten_codes,
    scoring_windows,
    slot_inputs,
)


@dataclass(frozen=True)
class BlendCandidate:
    """One way of joining the network and a bigram fitted with add-`alpha` smoothing (see `blend_logp`); a linear
    candidate may give a share `cross` to the cross-level table fitted with add-`cross_alpha` (model/cross_level.py)."""

    kind: str  # "linear" or "product"
    alpha: float
    weight: float
    cross: float = 0.0
    cross_alpha: float = 0.0


BLEND_ALPHAS = tuple(float(ALPHAS[i]) for i in (12, 16, 19))  # 0.1, 0.46, 1.47: sharper bigrams may blend better
BLEND_WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))
BLEND_CANDIDATES = (
    [BlendCandidate("linear", a, w, c, ca) for a in BLEND_ALPHAS for ca in CROSS_ALPHAS for w in BLEND_WEIGHTS
     for c in BLEND_WEIGHTS if w + c <= 1 + 1e-9]
    + [BlendCandidate("product", a, w) for a in BLEND_ALPHAS for w in BLEND_WEIGHTS])


@dataclass
class BlendTables:
    """What the blends read besides the network, fitted on a fold's training codes: the same-level bigram per
    alpha (V + Q, V) and the cross-level table per alpha (V + 2, V), log-probabilities laid out as the prior reads them."""

    bigram: dict[float, torch.Tensor]
    cross: dict[float, torch.Tensor]


def blend_tables(cfg: PriorConfig, grids: list[np.ndarray], alphas: tuple[float, ...] = BLEND_ALPHAS) -> BlendTables:
    """The bigram and the cross-level table fitted on `grids`, per smoothing candidate."""
    return BlendTables({a: bigram_table(cfg, *bigram_log_tables(grids, cfg.codebook_sizes, a)) for a in alphas},
                       cross_tables(cfg, grids))


@torch.no_grad()
def network_level_nll(model: PriorModel, grids: list[np.ndarray], batch: int = 64) -> np.ndarray:
    """Summed NLL (nats) per level of whole grids, scored with generation's windows: (levels,)."""
    return level_scores(model, grids, batch=batch)[0]


@torch.no_grad()
def level_scores(model: PriorModel, grids: list[np.ndarray], tables: BlendTables | None = None,
                 candidates: list[BlendCandidate] = BLEND_CANDIDATES, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Summed NLL (nats) per level of whole grids, scored with generation's windows: the network's (levels,)
    and, with `tables` (from `blend_tables`), each blend candidate's (len(candidates), levels)."""
    cfg = model.cfg
    blended = np.zeros((len(candidates) if tables else 0, cfg.levels))
    was = model.training
    model.eval()
    seqs = [torch.from_numpy(flatten_codes(g, cfg)) for g in grids]
    windows = [w for i, s in enumerate(seqs) for w in scoring_windows(cfg, len(s), i)]
    total = np.zeros(cfg.levels)
    for start in range(0, len(windows), batch):
        chunk = windows[start : start + batch]
        width = max(w.i1 - w.i0 for w in chunk)
        parts, targets = [], []
        for w in chunk:
            s = seqs[w.seq][None]  # (1, N)
            x = slot_inputs(cfg, s, w.w0, w.i0, w.i1)
            tgt = torch.full((1, width), -1, dtype=torch.long)  # (1, T)
            tgt[:, w.s0 - w.i0 : w.s1 - w.i0] = s[:, w.s0 : w.s1]
            pad = width - (w.i1 - w.i0)
            parts.append([torch.nn.functional.pad(t, (0, pad)) for t in (x.tok, x.same, x.level, x.time)])
            targets.append(tgt)
        x = SlotInputs(*(torch.cat([p[j] for p in parts]) for j in range(4)))  # each (W, T)
        target = torch.cat(targets)  # (W, T)
        logits = model(x)  # (W, T, V)
        nll = F.cross_entropy(logits.transpose(1, 2), target, reduction="none", ignore_index=-1).double()  # (W, T)
        for q in range(cfg.levels):
            total[q] += float(nll[x.level == q].sum())
        if tables:
            _score_blends(model, x, target, F.log_softmax(logits, dim=-1), tables, candidates, blended)
    model.train(was)
    return total, blended


def _score_blends(model: PriorModel, x: SlotInputs, target: torch.Tensor, net_logp: torch.Tensor,
                  tables: BlendTables, candidates: list[BlendCandidate], out: np.ndarray) -> None:
    """Add each candidate's summed NLL per level for these windows into `out` (C, Q).

    A linear blend's NLL needs only each part's probability of the true code, so those candidates are scored
    together from three numbers per slot; a product needs the whole normalized distribution, one at a time."""
    row, mask = model.bigram_row(x), model.level_mask[x.level]  # (W, T), (W, T, V)
    scored = target >= 0  # (W, T)
    tgt = target.clamp(min=0)[..., None]  # (W, T, 1)
    levels = [(x.level == q) & scored for q in range(model.cfg.levels)]
    at = {"net": net_logp.gather(-1, tgt)[..., 0].double()}  # each (W, T): log p of the true code
    at.update({("big", a): t[row].gather(-1, tgt)[..., 0].double() for a, t in tables.bigram.items()})
    at.update({("cross", a): t[x.tok].gather(-1, tgt)[..., 0].double() for a, t in tables.cross.items()})
    linear: dict[tuple[float, float], list[int]] = {}
    for c, cand in enumerate(candidates):
        if cand.kind == "linear":
            linear.setdefault((cand.alpha, cand.cross_alpha), []).append(c)
    for (alpha, cross_alpha), idx in linear.items():
        cross = at.get(("cross", cross_alpha), at["net"])  # a zero share when the candidate has none
        parts = torch.stack([at["net"], at[("big", alpha)], cross])  # (3, W, T)
        w = torch.tensor([[candidates[c].weight, 1 - candidates[c].weight - candidates[c].cross, candidates[c].cross]
                          for c in idx], dtype=torch.float64).clamp(min=0)  # (G, 3): network, bigram, cross shares
        nll = -torch.logsumexp(torch.log(w)[:, :, None, None] + parts[None], dim=1)  # (G, W, T)
        for q, sel in enumerate(levels):
            out[idx, q] += nll[:, sel].sum(dim=1).numpy()
    big = {a: t[row] + mask for a, t in tables.bigram.items()}  # each (W, T, V)
    for c, cand in enumerate(candidates):
        if cand.kind == "linear":
            continue
        w = torch.full((1, 1, 1), cand.weight)
        nll = -blend_logp(net_logp, big[cand.alpha], cand.kind, w).gather(-1, tgt)[..., 0].double()  # (W, T)
        for q, sel in enumerate(levels):
            out[c, q] += float(nll[sel].sum())
