"""Stage 2's decision, network or bigram, by k-fold cross-validation over whole sounds.

Every file is held out once (k = min(5, files) folds; leave-one-out under 6 files). In each fold a
fresh network trains for the same fixed number of steps on the other files and their augmented
copies, and its held-out negative log-likelihood per level is recorded every `eval_every` steps; the
same-level bigram is fitted on the same training codes and scored on the same held-out sounds. The
step with the lowest held-out NLL averaged over the folds is where the final prior (trained on every
file) stops; the network is kept only when that fold-mean NLL beats the bigram's fold-mean NLL.
Blends of the network with the counts (`prior_scores.py`) are chosen the same way, their figure nested.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..analysis.memorization import ALPHAS, bigram_counts, bigram_log_tables
from ..model.memory import memory_candidates
from ..model.prior import PriorConfig, PriorModel, SlotInputs, token_loss
from .adamw import AdamW
from .prior_data import FileCodes, WindowSampler
from .prior_scores import (  # noqa: F401 - re-exported: tests and benchmarks import them from here
    BLEND_CANDIDATES,
    BlendCandidate,
    BlendTables,
    SlotScores,
    blend_slot_logp,
    blend_tables,
    level_scores,
    memory_level_nll,
    network_level_nll,
    slot_scores,
)
from .state import Schedule

MAX_FOLDS = 5


# ------------------------------------------------------------------ folds
def make_folds(n_files: int, seed: int, k: int = MAX_FOLDS) -> list[list[int]]:
    """Held-out file indices per fold: k = min(k, n_files) groups of nearly equal size, shuffled by `seed`."""
    k = min(k, n_files)
    order = list(range(n_files))
    random.Random(seed).shuffle(order)
    return [sorted(order[i::k]) for i in range(k)]


# ------------------------------------------------------------------ per-level NLL
def bigram_level_nll(train: list[np.ndarray], val: list[np.ndarray], sizes: list[int],
                     alphas: np.ndarray = ALPHAS) -> np.ndarray:
    """Summed held-out NLL (nats) per alpha and level: (len(alphas), levels). Counts from `train` once."""
    starts, trans = bigram_counts(train, sizes)
    out = np.zeros((len(alphas), len(sizes)))
    a = np.asarray(alphas, dtype=np.float64)[:, None]  # (A, 1)
    for g in val:
        for q, k in enumerate(sizes):
            row = np.asarray(g[q], dtype=np.int64)
            if not row.size:
                continue
            p0 = (starts[q][row[0]] + a[:, 0]) / (starts[q].sum() + a[:, 0] * k)  # (A,)
            num = trans[q][row[:-1], row[1:]][None] + a  # (A, N - 1)
            den = trans[q][row[:-1]].sum(axis=1)[None] + a * k  # (A, N - 1)
            out[:, q] -= np.log(p0) + np.log(num / den).sum(axis=1)
    return out


def level_counts(grids: list[np.ndarray], levels: int) -> np.ndarray:
    """Codes per level: (levels,)."""
    return np.array([sum(int(g.shape[1]) for g in grids)] * levels, dtype=np.float64)


# ------------------------------------------------------------------ results
@dataclass
class FoldResult:
    """One fold: its held-out files, the network's held-out NLL per level at each evaluation, the bigram's per alpha."""

    held_out: list[str]
    tokens: list[float]  # held-out codes per level
    steps: list[int]  # evaluation steps (0 = untrained)
    network: list[list[float]]  # summed NLL per level at each evaluation step
    bigram: list[list[float]]  # summed NLL per level for each alpha (ALPHAS), fitted on the training codes
    bigram_augmented: list[list[float]] = field(default_factory=list)  # the same, fitted with the augmented codes
    cpu_s: float = 0.0
    blended: list[list[list[float]]] = field(default_factory=list)  # (evaluations, BLEND_CANDIDATES, levels) NLL
    slots: SlotScores | None = None  # per held-out slot, for the sound's memory (not in the run's JSON)


def _per_token(nll: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    return nll / np.maximum(tokens, 1)


@dataclass
class FoldDecision:
    """Fold-mean held-out NLL (nats per code) per level for the network (at `best_step`) and the bigram."""

    folds: int
    files: int
    best_step: int
    fold_steps: int
    network_nll: list[float]  # per level, mean over folds
    network_nll_spread: list[float]  # per level, standard deviation over folds
    bigram_nll: list[float]
    bigram_nll_spread: list[float]
    network_mean: float  # all levels, mean over folds of each fold's per-code NLL
    bigram_mean: float
    network_by_fold: list[float]
    bigram_by_fold: list[float]
    bigram_alpha: float
    bigram_augmented: bool
    keep_network: bool
    cpu_s: float = 0.0
    # The blend with the bigram (absent before it existed): chosen on all folds, kept when its honest figure
    # (`blend_mean`: each fold scored with the blend chosen on the other folds) beats the network and the bigram.
    blend: str = "none"
    blend_alpha: float = 0.0
    blend_weights: list[float] = field(default_factory=list)  # per level
    blend_step: int = 0
    blend_nll: list[float] = field(default_factory=list)  # per level, mean over folds (chosen on all folds)
    blend_nll_spread: list[float] = field(default_factory=list)
    blend_mean: float = math.inf  # each fold with the blend chosen on the others, then the mean over folds
    blend_by_fold: list[float] = field(default_factory=list)
    blend_mean_fitted: float = math.inf  # the blend chosen on all folds, scored on them (optimistic)
    keep_blend: bool = False
    # The cross-level table's share per level in the chosen (linear) blend, and its smoothing; empty: no share.
    cross_weights: list[float] = field(default_factory=list)
    cross_alpha: float = 0.0
    # The best blend of the network and the bigram alone, chosen the same way, for comparison (`BlendFigures`).
    blend_without_cross: dict[str, Any] = field(default_factory=dict)
    # The n-gram's share per level in the chosen (linear) blend, and its order (model/ngram.py); empty: no share.
    ngram_weights: list[float] = field(default_factory=list)
    ngram_order: int = 0
    # The best blend without the n-gram (the cross-level table allowed as `cross` says), for comparison.
    blend_without_ngram: dict[str, Any] = field(default_factory=dict)
    # The sound's memory over the chosen linear blend (model/memory.py), per level ("none" where not kept); when
    # kept, the blend figures above include it and `blend_without_memory` holds them without.
    memory_modes: list[str] = field(default_factory=list)
    memory_decays: list[float] = field(default_factory=list)
    memory_kappas: list[float] = field(default_factory=list)
    blend_without_memory: dict[str, Any] = field(default_factory=dict)

    @property
    def network_perplexity(self) -> float:
        return math.exp(self.network_mean)

    @property
    def blend_perplexity(self) -> float:
        return math.exp(self.blend_mean) if math.isfinite(self.blend_mean) else math.inf

    @property
    def stored_step(self) -> int:
        """The final run's step whose state is stored: the blend's when the blend is kept."""
        return self.blend_step if self.keep_blend else self.best_step

    @property
    def kept(self) -> str:
        """What the stored prior is: "blend", "network" or "bigram"."""
        return "blend" if self.keep_blend else "network" if self.keep_network else "bigram"

    @property
    def bigram_perplexity(self) -> float:
        return math.exp(self.bigram_mean)

    def as_dict(self) -> dict[str, Any]:
        r = _round
        return {"folds": self.folds, "files": self.files, "best_step": self.best_step, "fold_steps": self.fold_steps,
                "network_nll": r(self.network_nll), "network_nll_spread": r(self.network_nll_spread),
                "bigram_nll": r(self.bigram_nll), "bigram_nll_spread": r(self.bigram_nll_spread),
                "network_mean": r(self.network_mean), "bigram_mean": r(self.bigram_mean),
                "network_perplexity": r(self.network_perplexity), "bigram_perplexity": r(self.bigram_perplexity),
                "network_by_fold": r(self.network_by_fold), "bigram_by_fold": r(self.bigram_by_fold),
                "bigram_alpha": self.bigram_alpha, "bigram_augmented": self.bigram_augmented,
                "keep_network": self.keep_network, "cpu_s": round(self.cpu_s, 2),
                "blend": self.blend, "blend_alpha": round(self.blend_alpha, 4), "blend_weights": r(self.blend_weights),
                "blend_step": self.blend_step, "blend_nll": r(self.blend_nll),
                "blend_nll_spread": r(self.blend_nll_spread), "blend_mean": _finite(self.blend_mean),
                "blend_perplexity": _finite(self.blend_perplexity), "blend_by_fold": r(self.blend_by_fold),
                "blend_mean_fitted": _finite(self.blend_mean_fitted), "keep_blend": self.keep_blend,
                "kept": self.kept, "cross_weights": r(self.cross_weights), "cross_alpha": round(self.cross_alpha, 4),
                "blend_without_cross": self.blend_without_cross, "ngram_weights": r(self.ngram_weights),
                "ngram_order": self.ngram_order, "blend_without_ngram": self.blend_without_ngram,
                "memory_modes": self.memory_modes, "memory_decays": self.memory_decays,
                "memory_kappas": self.memory_kappas, "blend_without_memory": self.blend_without_memory}


def _finite(v: float) -> float | None:
    return round(float(v), 4) if math.isfinite(v) else None


def _round(v: Any) -> Any:
    return [round(float(x), 4) for x in v] if isinstance(v, list | np.ndarray) else round(float(v), 4)


def _sd(values: np.ndarray) -> float:
    return float(statistics.stdev(values.tolist())) if len(values) > 1 else 0.0


def decide(folds: list[FoldResult], n_files: int, fold_steps: int, cross: bool = True, ngram: bool = True,
           memory: bool = True) -> FoldDecision:
    """The evaluation step and bigram smoothing with the best fold-mean held-out NLL, and the verdict.
    With `cross` the blends may give a share to the cross-level table, with `ngram` to the n-gram; without
    either, only network and bigram. With `memory` (and the folds' `slots`) the sound's memory may join a
    linear blend."""
    tokens = np.array([f.tokens for f in folds])  # (F, Q)
    n_evals = min(len(f.steps) for f in folds)
    net = np.array([f.network[:n_evals] for f in folds])  # (F, E, Q)
    net_tok = net / np.maximum(tokens, 1)[:, None, :]  # (F, E, Q)
    net_fold = net.sum(axis=2) / np.maximum(tokens.sum(axis=1), 1)[:, None]  # (F, E): per code, all levels
    e = int(np.argmin(net_fold.mean(axis=0)))
    best_big: tuple[float, bool, int] | None = None
    for augmented in (False, True):
        tables = [f.bigram_augmented if augmented else f.bigram for f in folds]
        if any(not t for t in tables):
            continue
        big = np.array(tables)  # (F, A, Q)
        big_fold = big.sum(axis=2) / np.maximum(tokens.sum(axis=1), 1)[:, None]  # (F, A)
        a = int(np.argmin(big_fold.mean(axis=0)))
        score = float(big_fold[:, a].mean())
        if best_big is None or score < best_big[0]:
            best_big = (score, augmented, a)
    assert best_big is not None
    _, augmented, a = best_big
    big = np.array([f.bigram_augmented if augmented else f.bigram for f in folds])[:, a, :]  # (F, Q)
    big_tok = big / np.maximum(tokens, 1)
    big_fold = big.sum(axis=1) / np.maximum(tokens.sum(axis=1), 1)  # (F,)
    net_mean, big_mean = float(net_fold[:, e].mean()), float(big_fold.mean())
    d = FoldDecision(
        folds=len(folds), files=n_files, best_step=int(folds[0].steps[e]), fold_steps=fold_steps,
        network_nll=net_tok[:, e].mean(axis=0).tolist(), network_nll_spread=[_sd(c) for c in net_tok[:, e].T],
        bigram_nll=big_tok.mean(axis=0).tolist(), bigram_nll_spread=[_sd(c) for c in big_tok.T],
        network_mean=net_mean, bigram_mean=big_mean, network_by_fold=net_fold[:, e].tolist(),
        bigram_by_fold=big_fold.tolist(), bigram_alpha=float(ALPHAS[a]), bigram_augmented=augmented,
        keep_network=folds[0].steps[e] > 0 and net_mean < big_mean, cpu_s=sum(f.cpu_s for f in folds),
    )
    if n_evals > 1 and all(len(f.blended) >= n_evals for f in folds):
        best = _decide_blend(d, folds, n_evals, tokens, cross, ngram, net_fold[:, :n_evals])
        if memory and d.blend == "linear" and all(f.slots is not None for f in folds):
            _decide_memory(d, folds, tokens, best)
    return d


def _choose_blend(b_tok: np.ndarray, allowed: np.ndarray, net: np.ndarray) -> tuple[int, int, list[int]]:
    """On per-code NLL (F, E, C, Q) of some folds: the evaluation, the (kind, alpha, cross alpha) group and,
    per level, the `allowed` (C,) candidate with the lowest fold-mean NLL. Levels hold equal code counts in a
    fold, so choosing each level's weights on its own minimizes the all-level figure.

    The evaluation is the network's own best on these folds (`net`, (F, E) per code), never step 0 (an
    untrained network is never blended): choosing it with the weights as well fitted the folds better and
    held out worse (pads-drums-20, three fold sets: 0.6-0.9 points of perplexity, bench/RESULTS.md)."""
    e = 1 + int(net[:, 1:].mean(axis=0).argmin())
    mean = b_tok[:, e].mean(axis=0)  # (C, Q)
    best: tuple[float, int, list[int]] | None = None
    for g, group in enumerate(_blend_groups()):
        idx = [i for i in group if allowed[i]]
        if not idx:
            continue
        sub = mean[idx, :]  # (W, Q)
        pick = sub.argmin(axis=0)  # (Q,)
        score = float(sub[pick, np.arange(sub.shape[1])].mean())
        if best is None or score < best[0]:
            best = (score, g, [idx[int(w)] for w in pick])
    assert best is not None
    return e, best[1], best[2]


def _blend_groups() -> list[list[int]]:
    """Candidate indices per (kind, alpha, cross alpha, n-gram order), in BLEND_CANDIDATES' order."""
    groups: dict[tuple[str, float, float, int], list[int]] = {}
    for i, c in enumerate(BLEND_CANDIDATES):
        groups.setdefault((c.kind, c.alpha, c.cross_alpha, c.ngram_order), []).append(i)
    return list(groups.values())


@dataclass
class BlendFigures:
    """One blend family's choice on the folds: the candidates per level (chosen on all folds) at evaluation
    `step`, its per-level fold-mean NLL and spread (fitted), and the honest figure (nested) per fold and mean."""

    step: int
    picks: list[int]  # per level, an index into BLEND_CANDIDATES
    nll: list[float]
    nll_spread: list[float]
    mean_fitted: float
    by_fold: list[float]
    mean: float
    by_fold_level: list[list[float]] = field(default_factory=list)  # (F, Q): the nested figure per fold and level
    evaluation: int = 0  # the index of `step` among the evaluations
    nested: list[tuple[int, list[int]]] = field(default_factory=list)  # per fold: (evaluation, picks) chosen without it

    def as_dict(self) -> dict[str, Any]:
        chosen = [BLEND_CANDIDATES[c] for c in self.picks]
        return {"step": self.step, "kind": chosen[0].kind, "alpha": round(chosen[0].alpha, 4),
                "weights": [c.weight for c in chosen], "cross_weights": [c.cross for c in chosen],
                "ngram_weights": [c.ngram for c in chosen], "ngram_order": max(c.ngram_order for c in chosen),
                "nll": _round(self.nll), "nll_spread": _round(self.nll_spread),
                "mean_fitted": _finite(self.mean_fitted), "by_fold": _round(self.by_fold), "mean": _finite(self.mean),
                "by_fold_level": [_round(v) for v in self.by_fold_level],
                "perplexity": _finite(math.exp(self.mean))}


def _blend_figures(folds: list[FoldResult], n_evals: int, tokens: np.ndarray, allowed: np.ndarray,
                   net: np.ndarray) -> BlendFigures:
    """The blend among `allowed` candidates chosen on all folds, and its honest figure: each fold scored with
    the blend chosen on the other folds (nested cross-validation; one fold: the fitted figure). `net` (F, E):
    the network's per-code NLL, whose best evaluation the blend uses (`_choose_blend`)."""
    b_tok = np.array([f.blended[:n_evals] for f in folds]) / np.maximum(tokens, 1)[:, None, None, :]  # (F, E, C, Q)
    levels = range(b_tok.shape[3])

    def fold_score(f: int, e: int, picks: list[int]) -> np.ndarray:  # (Q,)
        return np.array([b_tok[f, e, picks[q], q] for q in levels])

    e, _, picks = _choose_blend(b_tok, allowed, net)
    fitted = np.array([fold_score(f, e, picks) for f in range(len(folds))])  # (F, Q)
    nested, choices = [], []
    for f in range(len(folds)):
        others = [i for i in range(len(folds)) if i != f] or [f]
        e_f, _, picks_f = _choose_blend(b_tok[others], allowed, net[others])
        nested.append(fold_score(f, e_f, picks_f))
        choices.append((e_f, picks_f))
    return BlendFigures(int(folds[0].steps[e]), picks, fitted.mean(axis=0).tolist(), [_sd(c) for c in fitted.T],
                        float(fitted.mean(axis=1).mean()), [float(n.mean()) for n in nested],
                        float(np.mean([n.mean() for n in nested])), [n.tolist() for n in nested], e, choices)


def _decide_blend(d: FoldDecision, folds: list[FoldResult], n_evals: int, tokens: np.ndarray, cross: bool,
                  ngram: bool, net: np.ndarray) -> BlendFigures:
    """Fill `d`'s blend fields (see `_blend_figures`); with `cross` the candidates include the cross-level table's
    shares, with `ngram` the n-gram's; the best blends without each are reported beside."""
    no_cross = np.array([c.cross == 0 for c in BLEND_CANDIDATES])
    no_ngram = np.array([c.ngram == 0 for c in BLEND_CANDIDATES])
    pair = _blend_figures(folds, n_evals, tokens, no_cross & no_ngram, net)
    without = _blend_figures(folds, n_evals, tokens, no_ngram, net) if cross else pair
    best = _blend_figures(folds, n_evals, tokens, np.ones_like(no_cross) if cross else no_cross, net) if ngram else without
    chosen = [BLEND_CANDIDATES[c] for c in best.picks]
    d.blend, d.blend_alpha = chosen[0].kind, chosen[0].alpha
    d.blend_weights = [c.weight for c in chosen]
    if any(c.cross > 0 for c in chosen):
        d.cross_weights, d.cross_alpha = [c.cross for c in chosen], chosen[0].cross_alpha
    if any(c.ngram > 0 for c in chosen):
        d.ngram_weights, d.ngram_order = [c.ngram for c in chosen], chosen[0].ngram_order
    d.blend_without_ngram = without.as_dict() if ngram else {}
    d.blend_step = best.step
    d.blend_nll, d.blend_nll_spread = best.nll, best.nll_spread
    d.blend_mean_fitted = best.mean_fitted
    d.blend_by_fold, d.blend_mean = best.by_fold, best.mean
    d.blend_without_cross = pair.as_dict() if cross else {}
    d.keep_blend = d.blend_mean < min(d.network_mean, d.bigram_mean)
    return best


def _memory_nll(folds: list[FoldResult], tokens: np.ndarray, evaluation: int, picks: list[int]) -> np.ndarray:
    """Per-code NLL (F, Q, 1 + M) of each fold's held-out slots under the blend `picks` at `evaluation`: without
    the sound's memory, then with each of its candidates (`prior_scores.memory_level_nll`)."""
    out = []
    for f, fold in enumerate(folds):
        assert fold.slots is not None
        logp = blend_slot_logp(fold.slots, evaluation, picks)
        out.append(memory_level_nll(fold.slots, logp, len(picks)) / np.maximum(tokens[f], 1)[:, None])
    return np.array(out)


def _decide_memory(d: FoldDecision, folds: list[FoldResult], tokens: np.ndarray, best: BlendFigures) -> None:
    """The sound's memory (model/memory.py) per level over the chosen linear blend: the option (none, or a mode,
    decay and kappa) with the lowest fold-mean NLL per level, kept when its honest figure beats the blend's
    (each fold scored with the blend and the memory chosen on the other folds)."""
    fitted_all = _memory_nll(folds, tokens, best.evaluation, best.picks)  # (F, Q, 1 + M)
    pick = fitted_all.mean(axis=0).argmin(axis=1)  # (Q,)
    levels = np.arange(len(pick))
    fitted = fitted_all[:, levels, pick]  # (F, Q)
    nested = []
    for f, (e_f, picks_f) in enumerate(best.nested):
        others = [i for i in range(len(folds)) if i != f] or [f]
        m = _memory_nll(folds, tokens, e_f, picks_f)  # (F, Q, 1 + M)
        nested.append(m[f, levels, m[others].mean(axis=0).argmin(axis=1)])  # (Q,)
    honest = float(np.mean([n.mean() for n in nested]))
    if honest >= d.blend_mean or not (pick > 0).any():
        return
    d.blend_without_memory = {"mean": _finite(d.blend_mean), "perplexity": _finite(d.blend_perplexity),
                              "by_fold": _round(d.blend_by_fold), "nll": _round(d.blend_nll),
                              "mean_fitted": _finite(d.blend_mean_fitted)}
    settings = [None if p == 0 else memory_candidates(q)[p - 1] for q, p in enumerate(pick.tolist())]
    d.memory_modes = [s.mode if s else "none" for s in settings]
    d.memory_decays = [s.decay if s else 1.0 for s in settings]
    d.memory_kappas = [s.kappa if s else 1.0 for s in settings]
    d.blend_nll, d.blend_nll_spread = fitted.mean(axis=0).tolist(), [_sd(c) for c in fitted.T]
    d.blend_mean_fitted = float(fitted.mean(axis=1).mean())
    d.blend_by_fold, d.blend_mean = [float(n.mean()) for n in nested], honest
    d.keep_blend = d.blend_mean < min(d.network_mean, d.bigram_mean)


# ------------------------------------------------------------------ one fold
def new_model(cfg: PriorConfig, seed: int) -> PriorModel:
    torch.manual_seed(seed)
    return PriorModel(cfg)


def new_optimizer(model: PriorModel, tc: Any) -> AdamW:
    return AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, betas=(0.9, 0.98))


def train_step(model: PriorModel, opt: AdamW, sampler: WindowSampler, tc: Any, lr: float,
               device: str = "cpu") -> torch.Tensor | None:
    """One optimizer step on a batch of windows; returns the loss, or None when it was not finite (no step)."""
    for g in opt.param_groups:
        g["lr"] = lr
    x, target = sampler.batch(tc.batch_size, model.cfg.corrupt)  # each (B, context * levels)
    x = SlotInputs(*(t.to(device) for t in (x.tok, x.same, x.level, x.time)))
    target = target.to(device)
    loss = token_loss(model, x, target, tc.label_smoothing).sum() / (target >= 0).sum().clamp(min=1)
    opt.zero_grad(set_to_none=True)
    if not torch.isfinite(loss):
        return None
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
    opt.step()
    return loss.detach()


def calibrate(cfg: PriorConfig, tc: Any, codes: FileCodes, held_out: list[int], seconds: float,
              clock: Callable[[], float] = time.process_time) -> int:
    """How many steps one fold (training plus its evaluations) can take in `seconds`, from 10 timed steps
    and one evaluation; at least one step, a multiple of `tc.eval_every` when it is more than that."""
    train, val, aug = codes.fold(held_out)
    model = new_model(cfg, tc.seed)
    opt, sampler = new_optimizer(model, tc), WindowSampler(cfg, train + aug, tc.start_share, tc.seed)
    train_step(model, opt, sampler, tc, 0.0)  # warm-up
    t0 = clock()
    for _ in range(10):
        train_step(model, opt, sampler, tc, 0.0)
    t1 = clock()
    level_scores(model, val, blend_tables(cfg, train + aug) if not model.use_base else None)  # as run_fold scores
    step_s, eval_s = max((t1 - t0) / 10, 1e-6), max(clock() - t1, 1e-6)
    steps = int((seconds - eval_s) / (step_s + eval_s / tc.eval_every))
    return max(1, steps // tc.eval_every * tc.eval_every if steps >= tc.eval_every else steps)


def run_fold(cfg: PriorConfig, tc: Any, codes: FileCodes, held_out: list[int], steps: int,
             stop: Callable[[], bool] = lambda: False, clock: Callable[[], float] = time.process_time,
             limit_s: float | None = None, blends: bool = True) -> FoldResult:
    """Train a fresh network on the fold's training files for `steps` steps (fewer if `stop()` or past
    `limit_s` seconds), scoring the held-out files per level at step 0, every `tc.eval_every` steps and
    at the last, alone and (with `blends`) blended with the bigram of the training codes (each
    `BLEND_CANDIDATES`); the bigram alone on the same split, per alpha."""
    t0 = clock()
    if limit_s is not None:
        stop = (lambda s: lambda: s() or clock() - t0 > limit_s)(stop)
    train, val, aug = codes.fold(held_out)
    sizes = cfg.codebook_sizes
    model = new_model(cfg, tc.seed)
    if model.use_base:
        model.set_bigram(*bigram_log_tables(train + aug, sizes, 0.1))
    opt = new_optimizer(model, tc)
    sampler = WindowSampler(cfg, train + aug, tc.start_share, tc.seed)
    schedule = Schedule(tc.lr, tc.warmup_steps, tc.min_lr_ratio)
    tables = blend_tables(cfg, train + aug) if blends and not model.use_base else None  # as `blend_bigram` fits it
    slots = slot_scores(cfg, val, tables) if tables else None  # for the sound's memory (model/memory.py)
    model.train()
    at, curve, mixed = [0], [], []

    def evaluate() -> None:
        logp = [np.zeros(g.size) for g in val] if slots is not None else None
        net, blended = level_scores(model, val, tables, slot_logp=logp)
        curve.append(net.tolist())
        mixed.append(blended.tolist())
        if slots is not None and logp is not None:
            slots.net.append(np.concatenate(logp or [np.zeros(0)]))

    evaluate()
    for step in range(1, steps + 1):
        if stop():
            break
        train_step(model, opt, sampler, tc, schedule.rate(step - 1, (step - 1) / steps))
        if step % tc.eval_every == 0 or step == steps:
            at.append(step)
            evaluate()
    return FoldResult(
        held_out=[codes.names[i] for i in held_out], tokens=level_counts(val, cfg.levels).tolist(), steps=at,
        network=curve, bigram=bigram_level_nll(train, val, sizes).tolist(),
        bigram_augmented=bigram_level_nll(train + aug, val, sizes).tolist() if aug else [],
        cpu_s=clock() - t0, blended=mixed if tables else [], slots=slots)
