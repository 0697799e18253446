"""Which context predicts a level's codes on held-out sounds? Count models only, the prior's 5 folds by file.

    PYTHONPATH=$PWD python bench/bench_cross_level_counts.py MODEL DATA_DIR [--seed 0]

Each fold fits add-alpha count models on its training files and their augmented copies (as `train-prior`
encodes them, cached) and scores the held-out files' codes, per level: the same-level bigram (the
baseline), the coarser level of the same column (`model/cross_level.py`), the coarser level one column
later (what a level-1-first order would add), and a few others. "nested +X" mixes the bigram with X
linearly, the weight fitted on the other folds (EM) and scored on the held-out one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distill_tui.data.dataset import scan  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.train.prior_data import encode_files  # noqa: E402
from distill_tui.train.prior_folds import make_folds  # noqa: E402
from distill_tui.train.prior_loop import PriorTrainConfig  # noqa: E402


def at(g: np.ndarray, lv: int, t: int) -> int:
    return int(g[lv, t]) if 0 <= t < g.shape[1] else -1


def score(train: list[np.ndarray], val: list[np.ndarray], lv: int, k: int, chain: list) -> np.ndarray:
    """p of each held-out code of level `lv` under a chain of (context function, alpha), each backing off to the
    one before it (the first to uniform): p = (n(ctx, c) + alpha * K * p_before) / (n(ctx) + alpha * K)."""
    tables = []
    for ctx, _ in chain:
        d: dict = {}
        for g in train:
            for t in range(g.shape[1]):
                d.setdefault(ctx(g, t), np.zeros(k))[g[lv, t]] += 1
        tables.append(d)
    out = []
    for g in val:
        for t in range(g.shape[1]):
            p = np.full(k, 1 / k)
            for (ctx, a), d in zip(chain, tables, strict=True):
                n = d.get(ctx(g, t))
                if n is not None:
                    p = (n + a * k * p) / (n.sum() + a * k)
            out.append(p[g[lv, t]])
    return np.array(out)


def contexts(lv: int, levels: int) -> dict[str, list]:
    u = (lambda g, t: 0, 1.0)
    out = {"bigram (same level, t-1)": [(lambda g, t: at(g, lv, t - 1), 1.47)],
           "same level t-2": [u, (lambda g, t: at(g, lv, t - 2), 0.3)],
           "unigram": [(lambda g, t: 0, 0.1)]}
    if lv >= 1:
        out["level l-1 at t (cross-level table)"] = [u, (lambda g, t: at(g, lv - 1, t), 0.3)]
        out["level 1 at t"] = [u, (lambda g, t: at(g, 0, t), 0.3)]
        out["level 1 at t and t+1"] = [u, (lambda g, t: at(g, 0, t), 0.3),
                                       (lambda g, t: (at(g, 0, t), at(g, 0, t + 1)), 1.0)]
        out["level l-1 at t+1"] = [u, (lambda g, t: at(g, lv - 1, t + 1), 0.3)]
        out["level l-1 at t and level l at t-1"] = [u, (lambda g, t: at(g, lv - 1, t), 0.3),
                                                    (lambda g, t: (at(g, lv - 1, t), at(g, lv, t - 1)), 1.0)]
    else:
        out["finest level at t-1"] = [u, (lambda g, t: at(g, levels - 1, t - 1), 0.3)]
    return out


def em(p: np.ndarray, iters: int = 200) -> np.ndarray:
    w = np.full(p.shape[1], 1 / p.shape[1])
    for _ in range(iters):
        r = p * w
        w = (r / r.sum(axis=1, keepdims=True)).mean(axis=0)
    return w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    codec = load_codec(args.model)
    codes = encode_files(codec, scan(args.data, codec.spec).files, PriorTrainConfig())
    folds = make_folds(len(codes.grids), args.seed)
    sizes, levels = codec.codebook_sizes, codec.cfg.levels
    print(f"{len(codes.grids)} files, {len(codes.augmented)} augmented copies, {len(folds)} folds (seed {args.seed})")
    for lv in range(levels):
        chains = contexts(lv, levels)
        names = list(chains)
        by_fold = []
        for held in folds:
            train, val, aug = codes.fold(held)
            by_fold.append(np.stack([score(train + aug, val, lv, sizes[lv], chains[n]) for n in names], axis=1))
        print(f"level {lv + 1}: held-out nats per code, mean ± spread over folds")
        for j, n in enumerate(names):
            per = np.array([-np.log(p[:, j]).mean() for p in by_fold])
            line = f"  {n:36s} {per.mean():.3f} ± {per.std(ddof=1):.3f}"
            if j:
                nested = []
                for f in range(len(folds)):
                    w = em(np.concatenate([by_fold[i][:, [0, j]] for i in range(len(folds)) if i != f]))
                    nested.append(-np.log(by_fold[f][:, [0, j]] @ w).mean())
                line += f"   nested bigram + it: {np.mean(nested):.3f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
