"""Does the prior generalize or copy? Same-level bigram baseline, 8-gram copy rate, nearest-grid Hamming distance."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

ALPHAS = np.logspace(-3, 1, 25)  # add-alpha candidates for the bigram; the best one on validation is reported
COPY_N = 8
HEALTHY_BAND = (2.0, 20.0)  # validation perplexity seen in healthy priors (research notes); below 1.5 is memorizing
MEMORIZING_PPL = 1.5
COPYING_RATE = 0.5


# ------------------------------------------------------------------ the same-level bigram
@dataclass
class BigramResult:
    alpha: float
    val_perplexity: float
    val_tokens: int
    augmented: bool = False  # fitted on the augmented training codes too (whichever scored better)


def bigram_counts(grids: list[np.ndarray], sizes: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per level: start counts (K,) for each grid's first code, transition counts (K, K) prev -> next."""
    starts = [np.zeros(k) for k in sizes]
    trans = [np.zeros((k, k)) for k in sizes]
    for g in grids:
        for q in range(len(sizes)):
            row = np.asarray(g[q], dtype=np.int64)
            if row.size:
                starts[q][row[0]] += 1
                np.add.at(trans[q], (row[:-1], row[1:]), 1)
    return starts, trans


def bigram_nll(train: list[np.ndarray], val: list[np.ndarray], sizes: list[int], alpha: float) -> tuple[float, int]:
    """Summed NLL (nats) and token count of `val` under an add-alpha same-level bigram fitted on `train`.

    Each code is predicted from the previous code of its own level; a grid's first code of each level
    from that level's start distribution.
    """
    starts, trans = bigram_counts(train, sizes)
    total, n = 0.0, 0
    for g in val:
        for q, k in enumerate(sizes):
            row = np.asarray(g[q], dtype=np.int64)
            if not row.size:
                continue
            p0 = (starts[q][row[0]] + alpha) / (starts[q].sum() + alpha * k)
            num = trans[q][row[:-1], row[1:]] + alpha
            den = trans[q][row[:-1]].sum(axis=1) + alpha * k
            total -= math.log(p0) + float(np.log(num / den).sum())
            n += row.size
    return total, n


def bigram_log_tables(train: list[np.ndarray], sizes: list[int], alpha: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The add-alpha bigram as log-probabilities per level: starts (K,), transitions (K, K) previous -> next."""
    starts, trans = bigram_counts(train, sizes)
    log_starts = [np.log((s + alpha) / (s.sum() + alpha * len(s))) for s in starts]
    log_trans = [np.log((t + alpha) / (t.sum(axis=1, keepdims=True) + alpha * t.shape[1])) for t in trans]
    return log_starts, log_trans


def bigram_baseline(train: list[np.ndarray], val: list[np.ndarray], sizes: list[int]) -> BigramResult:
    """The bigram's validation perplexity with the best alpha (chosen on the validation set: a generous baseline)."""
    best: BigramResult | None = None
    for alpha in ALPHAS:
        total, n = bigram_nll(train, val, sizes, float(alpha))
        ppl = math.exp(total / max(n, 1))
        if best is None or ppl < best.val_perplexity:
            best = BigramResult(float(alpha), ppl, n)
    assert best is not None
    return best


# ------------------------------------------------------------------ copying
def _tokens(grid: np.ndarray, sizes: list[int]) -> np.ndarray:
    """(levels, positions) -> the prior's token stream: time-major, levels interleaved, ids offset by level."""
    off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)[:, None]
    return (np.asarray(grid, dtype=np.int64) + off).T.reshape(-1)


def _ngrams(tokens: np.ndarray, n: int) -> list[bytes]:
    if len(tokens) < n:
        return []
    windows = np.lib.stride_tricks.sliding_window_view(tokens.astype(np.int32), n)  # (M, n)
    return [w.tobytes() for w in windows]


def copy_rate(generated: list[np.ndarray], training: list[np.ndarray], sizes: list[int], n: int = COPY_N) -> float:
    """Share of the generated token streams' n-grams found verbatim in the training token streams.

    Level ids are offset, so an n-gram only matches one that starts at the same level.
    """
    known = {g for grid in training for g in _ngrams(_tokens(grid, sizes), n)}
    grams = [g for grid in generated for g in _ngrams(_tokens(grid, sizes), n)]
    if not grams:
        return 0.0
    return sum(g in known for g in grams) / len(grams)


def copy_rate_by_level(generated: list[np.ndarray], training: list[np.ndarray], n: int = COPY_N) -> list[float]:
    """The copy rate of each level's own code stream (n consecutive codes of one level).

    A level that adds little to the sound often holds near-random codes; in the interleaved stream
    they hide copying at the coarse level, which this shows.
    """
    out = []
    for q in range(len(generated[0]) if generated else 0):
        known = {g for grid in training for g in _ngrams(np.asarray(grid[q], dtype=np.int64), n)}
        grams = [g for grid in generated for g in _ngrams(np.asarray(grid[q], dtype=np.int64), n)]
        out.append(sum(g in known for g in grams) / len(grams) if grams else 0.0)
    return out


def nearest_hamming(generated: list[np.ndarray], training: list[np.ndarray], window: int = 32) -> float:
    """Mean over generated grids of the distance to the nearest training grid (0 = a verbatim copy, ~1 = unrelated).

    A generated grid's first `window` positions are laid over every training grid at every offset;
    the distance is the share of cells that differ, and cells past a training grid's end count as
    different (so a short training sound is not "near" everything).
    """
    out = []
    for g in generated:
        g = np.asarray(g)[:, :window]  # (Q, W)
        w = g.shape[1]
        best = 1.0
        for t in training:
            t = np.asarray(t)
            if t.shape[1] < w:
                t = np.pad(t, ((0, 0), (0, w - t.shape[1])), constant_values=-1)
            views = np.lib.stride_tricks.sliding_window_view(t, w, axis=1)  # (Q, offsets, W)
            diff = (views != g[:, None, :]).mean(axis=(0, 2))  # (offsets,)
            best = min(best, float(diff.min()))
        out.append(best)
    return float(np.mean(out)) if out else 1.0


# ------------------------------------------------------------------ verdict
@dataclass
class MemorizationReport:
    val_perplexity: float
    train_perplexity: float
    bigram_val_perplexity: float
    bigram_alpha: float
    copy_rate_8gram: float
    nearest_hamming: float
    verdict: str
    copy_rate_8gram_by_level: list[float]

    def as_dict(self) -> dict:
        return asdict(self)


def verdict(val_ppl: float, train_ppl: float, bigram_ppl: float, copy: float) -> str:
    """A plain-language reading of the numbers; the first word is the state.

    The Hamming distance is reported but not judged: silence and steady tails encode to the same
    few codes in every sound, so a near grid is not proof of copying on its own.
    """
    if val_ppl < MEMORIZING_PPL or copy >= COPYING_RATE:
        return "copying the training set — it repeats stretches of your sounds; more sounds help most"
    if val_ppl >= 0.99 * bigram_ppl:  # a prior built on the bigram stays at it when nothing more carries over
        if train_ppl >= 0.8 * val_ppl:
            return ("undertrained — it predicts new sounds no better than simple code-to-code counts (the bigram); "
                    "train it longer")
        return ("overfitting — it learned your sounds by heart but predicts new ones no better than simple "
                "code-to-code counts (the bigram), so it generates from those counts; more sounds help most")
    gain = 1 - val_ppl / bigram_ppl
    if val_ppl > HEALTHY_BAND[1]:
        return (f"healthy — predicts new sounds {gain:.0%} better than simple code-to-code counts, though still "
                "unsure (more than 20 likely next codes)")
    return f"healthy — predicts new sounds {gain:.0%} better than simple code-to-code counts"


def memorization_report(val_ppl: float, train_ppl: float, bigram: BigramResult, generated: list[np.ndarray],
                        training: list[np.ndarray], sizes: list[int]) -> MemorizationReport:
    """The prior's report: perplexities against the bigram, copy rates, nearest-grid distance and a verdict."""
    copy = copy_rate(generated, training, sizes)
    ham = nearest_hamming(generated, training)
    return MemorizationReport(
        val_perplexity=val_ppl, train_perplexity=train_ppl, bigram_val_perplexity=bigram.val_perplexity,
        bigram_alpha=bigram.alpha, copy_rate_8gram=copy, nearest_hamming=ham,
        verdict=verdict(val_ppl, train_ppl, bigram.val_perplexity, copy),
        copy_rate_8gram_by_level=copy_rate_by_level(generated, training),
    )
