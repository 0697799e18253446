"""Held-out scores per level, read with generation's windows: the network alone, and blended with counts.

The blends (`BLEND_CANDIDATES`) join the network with the same-level bigram of the training codes and,
for a linear blend, with the cross-level table (model/cross_level.py) and the Kneser-Ney n-gram
(model/ngram.py); `train/prior_folds.py` chooses among them on the folds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..analysis.memorization import ALPHAS, bigram_log_tables
from ..model.cross_level import CROSS_ALPHAS, cross_tables
from ..model.memory import (
    CANDIDATE_MODES,
    MEMORY_DECAYS,
    MemorySetting,
    adjust_logp,
    memory_candidates,
    true_counts,
)
from ..model.ngram import NGRAM_ORDERS, ngram_row, ngram_tables
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
    candidate may give a share `cross` to the cross-level table fitted with add-`cross_alpha` (model/cross_level.py)
    and a share `ngram` to the Kneser-Ney n-gram of order `ngram_order` (model/ngram.py; 0: none)."""

    kind: str  # "linear" or "product"
    alpha: float
    weight: float
    cross: float = 0.0
    cross_alpha: float = 0.0
    ngram: float = 0.0
    ngram_order: int = 0


BLEND_ALPHAS = tuple(float(ALPHAS[i]) for i in (12, 16, 19))  # 0.1, 0.46, 1.47: sharper bigrams may blend better
BLEND_WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))


def blend_candidates(ngram_orders: tuple[int, ...] = NGRAM_ORDERS) -> list[BlendCandidate]:
    """Every candidate: linear ones per (bigram alpha, cross alpha, n-gram order; 0 = no n-gram) over shares on a
    0.1 grid that sum to at most 1 (the bigram takes the rest), then the products with the bigram."""
    def shares(order: int) -> list[tuple[float, float, float]]:
        ns = BLEND_WEIGHTS if order else (0.0,)
        return [(w, c, n) for w in BLEND_WEIGHTS for c in BLEND_WEIGHTS for n in ns if w + c + n <= 1 + 1e-9]

    return ([BlendCandidate("linear", a, w, c, ca, n, o) for a in BLEND_ALPHAS for ca in CROSS_ALPHAS
             for o in (0, *ngram_orders) for w, c, n in shares(o)]
            + [BlendCandidate("product", a, w) for a in BLEND_ALPHAS for w in BLEND_WEIGHTS])


BLEND_CANDIDATES = blend_candidates()


@dataclass
class BlendTables:
    """What the blends read besides the network, fitted on a fold's training codes: the same-level bigram per
    alpha (V + Q, V), the cross-level table per alpha (V + 2, V) and the n-gram per order (R, K), log-probabilities
    laid out as the prior reads them."""

    bigram: dict[float, torch.Tensor]
    cross: dict[float, torch.Tensor]
    ngram: dict[int, torch.Tensor] = field(default_factory=dict)


def blend_tables(cfg: PriorConfig, grids: list[np.ndarray], alphas: tuple[float, ...] = BLEND_ALPHAS) -> BlendTables:
    """The bigram, the cross-level table and the n-gram fitted on `grids`, per smoothing candidate or order."""
    return BlendTables({a: bigram_table(cfg, *bigram_log_tables(grids, cfg.codebook_sizes, a)) for a in alphas},
                       cross_tables(cfg, grids), ngram_tables(cfg, grids))


@torch.no_grad()
def network_level_nll(model: PriorModel, grids: list[np.ndarray], batch: int = 64) -> np.ndarray:
    """Summed NLL (nats) per level of whole grids, scored with generation's windows: (levels,)."""
    return level_scores(model, grids, batch=batch)[0]


@torch.no_grad()
def level_scores(model: PriorModel, grids: list[np.ndarray], tables: BlendTables | None = None,
                 candidates: list[BlendCandidate] = BLEND_CANDIDATES, batch: int = 64,
                 slot_logp: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Summed NLL (nats) per level of whole grids, scored with generation's windows: the network's (levels,)
    and, with `tables` (from `blend_tables`), each blend candidate's (len(candidates), levels). With
    `slot_logp` (one (N,) float array per grid, N = its slots read time-major) the network's log-probability
    of each true code is written there too (benchmarks re-blend it offline)."""
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
            parts.append([torch.nn.functional.pad(t, (0, pad)) for t in x.fields()])
            targets.append(tgt)
        x = SlotInputs(*(torch.cat([p[j] for p in parts]) for j in range(5)))  # each (W, T)
        target = torch.cat(targets)  # (W, T)
        logits = model(x)  # (W, T, V)
        nll = F.cross_entropy(logits.transpose(1, 2), target, reduction="none", ignore_index=-1).double()  # (W, T)
        for q in range(cfg.levels):
            total[q] += float(nll[x.level == q].sum())
        if slot_logp is not None:
            for r, w in enumerate(chunk):
                slot_logp[w.seq][w.s0 : w.s1] = -nll[r, w.s0 - w.i0 : w.s1 - w.i0].numpy()
        if tables:
            _score_blends(model, x, target, F.log_softmax(logits, dim=-1), tables, candidates, blended)
    model.train(was)
    return total, blended


def count_part_logp(cfg: PriorConfig, x: SlotInputs, target: torch.Tensor, tables: BlendTables
                    ) -> dict[tuple[str, float], torch.Tensor]:
    """Each count part's log-probability of the true code per slot, keyed ("big", alpha), ("cross", alpha) and
    ("ngram", order): each (W, T) float64 (padding slots read code 0 of their level: ignore them)."""
    tgt = target.clamp(min=0)[..., None]  # (W, T, 1)
    row = torch.where(x.same == cfg.vocab, cfg.vocab + x.level, x.same)  # (W, T): as PriorModel.bigram_row
    at: dict[tuple[str, float], torch.Tensor] = {}
    at.update({("big", a): t[row].gather(-1, tgt)[..., 0].double() for a, t in tables.bigram.items()})
    at.update({("cross", a): t[x.tok].gather(-1, tgt)[..., 0].double() for a, t in tables.cross.items()})
    if tables.ngram:
        assert x.same2 is not None
        nrow = ngram_row(cfg, x.same, x.same2, x.level)  # (W, T)
        local = (tgt[..., 0] - torch.tensor(cfg.offsets)[x.level]).clamp(min=0)[..., None]  # (W, T, 1)
        at.update({("ngram", o): t[nrow].gather(-1, local)[..., 0].double() for o, t in tables.ngram.items()})
    return at


def score_linear(at: dict, levels: list[torch.Tensor], candidates: list[BlendCandidate], out: np.ndarray) -> None:
    """Add each linear candidate's summed NLL per level into `out` (C, Q) from the parts' per-slot log p `at`
    ("net" and `count_part_logp`'s keys, each (W, T)) and the scored slots of each level `levels` (each (W, T)).
    A candidate whose n-gram is missing (too large to store) scores +inf."""
    groups: dict[tuple[float, float, int], list[int]] = {}
    for c, cand in enumerate(candidates):
        if cand.kind == "linear":
            groups.setdefault((cand.alpha, cand.cross_alpha, cand.ngram_order), []).append(c)
    for (alpha, cross_alpha, order), idx in groups.items():
        cross = at.get(("cross", cross_alpha), at["net"])  # a zero share when the candidate has none
        ngram = at.get(("ngram", order), at["net"])
        w = torch.tensor([[candidates[c].weight, 1 - candidates[c].weight - candidates[c].cross - candidates[c].ngram,
                           candidates[c].cross, candidates[c].ngram] for c in idx], dtype=torch.float64).clamp(min=0)
        parts = torch.stack([at["net"], at[("big", alpha)], cross, ngram])  # (4, W, T)
        for q, sel in enumerate(levels):  # only the scored slots (a window reads twice what it scores)
            nll = -torch.logsumexp(torch.log(w)[:, :, None] + parts[:, sel][None], dim=1)  # (G, S)
            out[idx, q] += nll.sum(dim=1).numpy()
        if order and ("ngram", order) not in at:
            out[[c for c, share in zip(idx, w[:, 3].tolist(), strict=True) if share > 0]] = np.inf


def _score_blends(model: PriorModel, x: SlotInputs, target: torch.Tensor, net_logp: torch.Tensor,
                  tables: BlendTables, candidates: list[BlendCandidate], out: np.ndarray) -> None:
    """Add each candidate's summed NLL per level for these windows into `out` (C, Q).

    A linear blend's NLL needs only each part's probability of the true code, so those candidates are scored
    together from four numbers per slot (`score_linear`); a product needs the whole normalized distribution,
    one at a time."""
    row, mask = model.bigram_row(x), model.level_mask[x.level]  # (W, T), (W, T, V)
    scored = target >= 0  # (W, T)
    tgt = target.clamp(min=0)[..., None]  # (W, T, 1)
    levels = [(x.level == q) & scored for q in range(model.cfg.levels)]
    at = {"net": net_logp.gather(-1, tgt)[..., 0].double(), **count_part_logp(model.cfg, x, target, tables)}
    score_linear(at, levels, candidates, out)
    big = {a: t[row] + mask for a, t in tables.bigram.items()}  # each (W, T, V)
    for c, cand in enumerate(candidates):
        if cand.kind == "linear":
            continue
        w = torch.full((1, 1, 1), cand.weight)
        nll = -blend_logp(net_logp, big[cand.alpha], cand.kind, w).gather(-1, tgt)[..., 0].double()  # (W, T)
        for q, sel in enumerate(levels):
            out[c, q] += float(nll[sel].sum())


# ------------------------------------------------------------------ per-slot scores, for the sound's memory
@dataclass
class SlotScores:
    """A fold's held-out slots, every grid's read time-major one after another (S in all), as a linear blend and
    the sound's memory (model/memory.py) read them: each slot's level (S,); the network's log p of the true code
    at each evaluation (E lists of (S,)); each count part's log p of it, keyed as `count_part_logp` keys them
    (S,); and, per memory mode and decay, the memory's weighted count of the true code and of all codes (S,) each."""

    level: np.ndarray
    parts: dict[tuple[str, float], np.ndarray]
    memory: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]]
    net: list[np.ndarray] = field(default_factory=list)


def grid_part_logp(cfg: PriorConfig, grid: np.ndarray, tables: BlendTables) -> dict[tuple[str, float], np.ndarray]:
    """Each count part's log p of every slot of one grid read time-major (N,), keyed as `count_part_logp` keys
    them, scored with generation's windows as `level_scores` scores them."""
    seq = torch.from_numpy(flatten_codes(grid, cfg))[None]  # (1, N)
    parts: dict[tuple[str, float], np.ndarray] = {}
    for w in scoring_windows(cfg, seq.shape[1]):
        x = slot_inputs(cfg, seq, w.w0, w.i0, w.i1)
        for key, v in count_part_logp(cfg, x, seq[:, w.i0 : w.i1], tables).items():
            parts.setdefault(key, np.zeros(seq.shape[1]))[w.s0 : w.s1] = v[0, w.s0 - w.i0 : w.s1 - w.i0].numpy()
    return parts


def slot_scores(cfg: PriorConfig, grids: list[np.ndarray], tables: BlendTables) -> SlotScores:
    """The count parts' and the memory's per-slot figures for held-out `grids` (the network's come per evaluation
    from `level_scores(slot_logp=...)`)."""
    q = cfg.levels
    per_grid = [grid_part_logp(cfg, g, tables) for g in grids]
    keys = per_grid[0].keys() if per_grid else []
    memory: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = {}
    for mode in CANDIDATE_MODES:
        for decay in MEMORY_DECAYS:
            hits, totals = [], []
            for g in grids:
                hit, total = np.zeros((g.shape[1], q)), np.zeros((g.shape[1], q))  # (T, Q): time-major when flattened
                for lv in range(1 if mode == "cross" else 0, q):
                    hit[:, lv], total[:, lv] = true_counts(g, lv, MemorySetting(mode, decay, 1.0), cfg.memory_silence)
                hits.append(hit.reshape(-1))
                totals.append(total.reshape(-1))
            memory[(mode, decay)] = (np.concatenate(hits or [np.zeros(0)]), np.concatenate(totals or [np.zeros(0)]))
    return SlotScores(np.concatenate([np.arange(g.size) % q for g in grids] or [np.zeros(0, dtype=np.int64)]),
                      {k: np.concatenate([p[k] for p in per_grid]) for k in keys}, memory)


def blend_slot_logp(s: SlotScores, evaluation: int, picks: list[int]) -> np.ndarray:
    """Each slot's log p of its true code under the linear candidates `picks` (one per level, indices into
    BLEND_CANDIDATES) with the network as it was at `evaluation`: (S,)."""
    out = np.zeros(len(s.level))
    for q, c in enumerate(picks):
        cand, sel = BLEND_CANDIDATES[c], s.level == q
        shares = [cand.weight, 1 - cand.weight - cand.cross - cand.ngram, cand.cross, cand.ngram]
        parts = [s.net[evaluation], s.parts[("big", cand.alpha)], s.parts.get(("cross", cand.cross_alpha)),
                 s.parts.get(("ngram", cand.ngram_order))]
        terms = [np.log(w) + p[sel] for w, p in zip(shares, parts, strict=True) if w > 1e-9 and p is not None]
        out[sel] = np.logaddexp.reduce(np.stack(terms), axis=0)
    return out


def memory_level_nll(s: SlotScores, logp: np.ndarray, levels: int) -> np.ndarray:
    """Summed NLL per level (Q, 1 + M): first without memory, then with each of `memory_candidates(q)` (levels
    with fewer candidates are padded with +inf)."""
    options = [memory_candidates(q) for q in range(levels)]
    out = np.full((levels, 1 + max(len(o) for o in options)), np.inf)
    for q in range(levels):
        sel = s.level == q
        lp = logp[sel]
        out[q, 0] = -lp.sum()
        for m, setting in enumerate(options[q]):
            hit, total = (a[sel] for a in s.memory[(setting.mode, setting.decay)])
            out[q, 1 + m] = -adjust_logp(lp, hit, total, setting.kappa).sum()
    return out
