"""The Kneser-Ney n-gram as a blend part, measured offline on a kept fold phase (no network is retrained).

    PYTHONPATH=$PWD python bench/bench_prior_fold_rules.py MODEL DATA --seed S --out F.json  # also writes F.npz
    PYTHONPATH=$PWD python bench/bench_prior_ngram.py F.json [F2.json ...]

F.npz holds the codes and the network's log-probability of each held-out code at each evaluation. From them
every linear blend candidate (`prior_scores.BLEND_CANDIDATES`) is re-scored with the count parts fitted on
each fold's training codes exactly as `run_fold` fits them; the product candidates are read from F.json (they
hold no n-gram). Then `prior_folds.decide` chooses as `train-prior` would, with and without the n-gram, and
the honest (nested) gain over the same-level add-alpha bigram is printed per fold and level. The count
models alone (add-alpha bigram, Kneser-Ney bigram and trigram) are printed beside, per level.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distill_tui.analysis.memorization import ALPHAS  # noqa: E402
from distill_tui.model.ngram import ngram_tables  # noqa: E402
from distill_tui.model.prior import adaptive_prior_config  # noqa: E402
from distill_tui.train.prior_data import FileCodes  # noqa: E402
from distill_tui.train.prior_folds import FoldResult, _blend_figures, decide  # noqa: E402
from distill_tui.train.prior_scores import (  # noqa: E402
    BLEND_CANDIDATES,
    blend_tables,
    grid_part_logp,
    score_linear,
)


def load(path: Path) -> tuple[dict, FileCodes, list[list[int]], dict]:
    dump = json.loads(path.read_text())
    z = np.load(path.with_suffix(".npz"), allow_pickle=False)
    grids = [z[f"grid{i}"] for i in range(dump["n"])]
    n_aug = sum(1 for k in z.files if k.startswith("aug") and k != "aug_sources")
    src = z["aug_sources"]
    codes = FileCodes([f"f{i}" for i in range(len(grids))], grids, [z[f"aug{j}"] for j in range(n_aug)],
                      [frozenset(int(v) for v in row if v >= 0) for row in src])
    held = [z[f"held{f}"].tolist() for f in range(len(dump["folds"]))]
    return dump, codes, held, {k: z[k] for k in z.files if k.startswith("net")}


def rescore(path: Path, ngram_augmented: bool = True) -> tuple[list[FoldResult], dict, np.ndarray]:
    """The folds with every candidate re-scored; and the count models alone, per-code NLL (F, 3, Q)."""
    dump, codes, held, net = load(path)
    cfg = adaptive_prior_config(dump["n"], codes.grids[0].shape[0], [64] * codes.grids[0].shape[0])
    n_old = len(dump["folds"][0]["blended"][0])
    products = [c for c, cand in enumerate(BLEND_CANDIDATES) if cand.kind == "product"]
    folds, alone = [], []
    for f, (fd, h) in enumerate(zip(dump["folds"], held, strict=True)):
        train, val, aug = codes.fold(h)
        tables = blend_tables(cfg, train + aug)
        tables.ngram = ngram_tables(cfg, train + aug if ngram_augmented else train, (2, 3))  # the bigram for comparison
        parts = [grid_part_logp(cfg, g, tables) for g in val]
        q = cfg.levels
        blended = np.zeros((len(fd["steps"]), len(BLEND_CANDIDATES), q))
        for e in range(len(fd["steps"])):
            for k, p in enumerate(parts):
                n = len(p[("big", 0.1)]) if ("big", 0.1) in p else len(next(iter(p.values())))
                at = {key: torch.from_numpy(v)[None] for key, v in p.items()}
                at["net"] = torch.from_numpy(net[f"net{f}_{e}_{k}"].astype(np.float64))[None]
                levels = [torch.from_numpy(np.arange(n) % q == lv)[None] for lv in range(q)]
                score_linear(at, levels, BLEND_CANDIDATES, blended[e])
            old = np.array(fd["blended"][e])  # (C_old, Q): its products are last, in the same order
            blended[e, products] = old[n_old - len(products):]
        tok = np.maximum(np.array(fd["tokens"]), 1)
        alone.append([sum(-_level_sum(p[key], q) for p in parts) / tok
                      for key in (("big", 0.1), ("ngram", 2), ("ngram", 3))])
        folds.append(FoldResult(**{**fd, "blended": blended.tolist()}))
    return folds, dump, np.array(alone)


def _level_sum(v: np.ndarray, q: int) -> np.ndarray:
    return np.array([v[lv::q].sum() for lv in range(q)])


def report(path: Path, ngram_augmented: bool) -> dict:
    """The honest (nested) gain over the same-level add-alpha bigram, with and without the n-gram: all levels,
    per fold, and per level (nats per code, mean over folds, against the bigram's)."""
    folds, dump, alone = rescore(path, ngram_augmented)
    d = decide(folds, dump["n"], dump["steps"], cross=True, ngram=True)
    tokens = np.array([f.tokens for f in folds])  # (F, Q)
    n_evals = min(len(f.steps) for f in folds)
    net = np.array([f.network[:n_evals] for f in folds])  # (F, E, Q)
    net_fold = net.sum(axis=2) / tokens.sum(axis=1)[:, None]  # (F, E)
    a = int(np.argmin(np.abs(ALPHAS - d.bigram_alpha)))
    big = np.array([(f.bigram_augmented if d.bigram_augmented else f.bigram)[a] for f in folds]) / tokens  # (F, Q)
    gain = lambda nll, b: round(100 * (1 - math.exp(nll) / b), 2)  # noqa: E731
    out = {"file": path.name, "fold_steps": dump["steps"], "ngram_fitted_with_augmented": ngram_augmented,
           "bigram_perplexity": round(d.bigram_perplexity, 3), "network_gain": gain(d.network_mean, d.bigram_perplexity),
           "bigram_nll_per_level": big.mean(axis=0).round(4).tolist()}
    no_ngram = np.array([c.ngram == 0 for c in BLEND_CANDIDATES])
    for name, allowed in (("with_ngram", np.ones_like(no_ngram)), ("without_ngram", no_ngram)):
        fig = _blend_figures(folds, n_evals, tokens, allowed, net_fold[:, :n_evals])
        chosen = [BLEND_CANDIDATES[c] for c in fig.picks]
        nested = np.array(fig.by_fold_level)  # (F, Q)
        out[name] = {"honest_gain": gain(fig.mean, d.bigram_perplexity), "fitted_gain": gain(fig.mean_fitted, d.bigram_perplexity),
                     "honest_gain_by_fold": [gain(v, math.exp(b)) for v, b in zip(fig.by_fold, d.bigram_by_fold, strict=True)],
                     "honest_nll_per_level": nested.mean(axis=0).round(4).tolist(),
                     "honest_nll_minus_bigram_by_fold_level": (nested - big).round(3).tolist(),
                     "network": [c.weight for c in chosen], "cross": [c.cross for c in chosen],
                     "ngram": [c.ngram for c in chosen], "order": max(c.ngram_order for c in chosen)}
    out["alone_nll_per_level"] = {"addalpha0.1": alone[:, 0].mean(axis=0).round(4).tolist(),
                                  "kn2": alone[:, 1].mean(axis=0).round(4).tolist(),
                                  "kn3": alone[:, 2].mean(axis=0).round(4).tolist()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dumps", type=Path, nargs="+")
    ap.add_argument("--ngram-without-augmented", action="store_true", help="fit the n-gram on the files only")
    args = ap.parse_args()
    for path in args.dumps:
        print(json.dumps(report(path, not args.ngram_without_augmented)))


if __name__ == "__main__":
    main()
