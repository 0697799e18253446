"""The sound's memory (model/memory.py) over the prior's blend, measured offline on kept fold phases.

    PYTHONPATH=$PWD python bench/bench_prior_fold_rules.py MODEL DATA --seed S --out F.json  # also writes F.npz
    PYTHONPATH=$PWD python bench/bench_prior_memory.py F.json [F2.json ...]

From each kept fold phase (the codes and the network's log-probability of every held-out code at every
evaluation), the folds are re-scored with every blend candidate (bench_prior_ngram.rescore), the per-slot figures
the memory needs are computed as `run_fold` computes them (`prior_scores.slot_scores`), and `prior_folds.decide`
chooses as `train-prior` would, with and without the memory. Printed per dump: the honest (nested) gain over the
same-level bigram both ways, per fold and per level, and the memory chosen per level. Unlike `train-prior`, it has
no codec at hand, so silent columns are remembered like any other (real sounds hold 0.3 % of them).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_prior_ngram import load, rescore  # noqa: E402

from distill_tui.model.prior import adaptive_prior_config  # noqa: E402
from distill_tui.train.prior_folds import decide  # noqa: E402
from distill_tui.train.prior_scores import blend_tables, slot_scores  # noqa: E402


def report(path: Path) -> dict:
    folds, dump, _ = rescore(path)
    _, codes, held, net = load(path)
    cfg = adaptive_prior_config(dump["n"], codes.grids[0].shape[0], [64] * codes.grids[0].shape[0])
    for f, (fold, h) in enumerate(zip(folds, held, strict=True)):
        train, val, aug = codes.fold(h)
        fold.slots = slot_scores(cfg, val, blend_tables(cfg, train + aug))
        fold.slots.net = [np.concatenate([net[f"net{f}_{e}_{k}"].astype(np.float64) for k in range(len(val))])
                          for e in range(len(fold.steps))]
    out: dict = {"file": path.name, "fold_steps": dump["steps"]}
    for name, memory in (("without_memory", False), ("with_memory", True)):
        d = decide(folds, dump["n"], dump["steps"], memory=memory)
        gain = lambda nll, b: round(100 * (1 - math.exp(nll) / b), 2)  # noqa: E731
        out[name] = {"honest_gain": gain(d.blend_mean, d.bigram_perplexity),
                     "fitted_gain": gain(d.blend_mean_fitted, d.bigram_perplexity),
                     "honest_gain_by_fold": [gain(v, math.exp(b)) for v, b in zip(d.blend_by_fold, d.bigram_by_fold,
                                                                                 strict=True)],
                     "blend_nll_per_level": [round(v, 4) for v in d.blend_nll],
                     "bigram_nll_per_level": [round(v, 4) for v in d.bigram_nll],
                     "network_gain": gain(d.network_mean, d.bigram_perplexity), "kept": d.kept,
                     "memory": list(zip(d.memory_modes, d.memory_decays, d.memory_kappas, strict=True))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dumps", type=Path, nargs="+")
    args = ap.parse_args()
    for path in args.dumps:
        print(json.dumps(report(path)))


if __name__ == "__main__":
    main()
