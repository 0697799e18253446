"""Coarse-ahead interleaving: does seeing level 1 a few positions ahead help the finer levels? (issue 14, lever 2)

    PYTHONPATH=$PWD python bench/bench_prior_lookahead.py MODEL DATA_DIR --steps 700 --ahead 0,2,4 [--seed 0]

The causal prior reads a grid time-major, so level 2 and 3 at time t see level 1 only up to t. Shifting
level 1 `ahead` positions earlier before interleaving (row 1 = level 1 at t + ahead, rows 2.. = the finer
levels at t) lets the same model predict level 1 from its past and every finer code with `ahead` future
level-1 codes in view: a coarse-to-fine split without a second model. The grids are cut to the positions
every row has (level 1 loses its first `ahead` codes, the others their last), and the bigram is scored on
the same cut grids, so each row's network and bigram figures compare like with like. Runs the folds
of `train-prior` (`train/prior_folds.py`) at a fixed step count and prints one JSON row per `ahead`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distill_tui.data.dataset import scan  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.model.prior import adaptive_prior_config  # noqa: E402
from distill_tui.threads import torch_threads  # noqa: E402
from distill_tui.train.prior_data import FileCodes, encode_files  # noqa: E402
from distill_tui.train.prior_folds import decide, make_folds, run_fold  # noqa: E402
from distill_tui.train.prior_loop import PriorTrainConfig  # noqa: E402


def ahead_grid(g: np.ndarray, ahead: int) -> np.ndarray:
    """(Q, T) -> (Q, T - ahead): row 0 is level 1 `ahead` positions later than the rows below it."""
    if ahead <= 0:
        return g
    return np.concatenate([g[:1, ahead:], g[1:, : g.shape[1] - ahead]], axis=0)


def ahead_codes(codes: FileCodes, ahead: int) -> FileCodes:
    keep = [i for i, g in enumerate(codes.augmented) if g.shape[1] > ahead + 1]
    return FileCodes(codes.names, [ahead_grid(g, ahead) for g in codes.grids],
                     [ahead_grid(codes.augmented[i], ahead) for i in keep], [codes.sources[i] for i in keep],
                     [codes.kinds[i] for i in keep])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--ahead", default="0,2,4")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    codec = load_codec(args.model)
    files = scan(args.data_dir, codec.spec, max_file_seconds=codec.doc.training.max_file_seconds).files
    tc = PriorTrainConfig(seed=args.seed)
    with torch_threads(1):
        full = encode_files(codec, files, tc)
    folds = make_folds(len(full.names), args.seed, tc.folds)
    cfg = adaptive_prior_config(len(full.names), codec.cfg.levels, codec.codebook_sizes)
    for ahead in (int(a) for a in args.ahead.split(",")):
        codes = ahead_codes(full, ahead)
        c0 = time.process_time()
        with torch_threads(1):
            results = [run_fold(cfg, tc, codes, held, args.steps) for held in folds]
        d = decide(results, len(full.names), args.steps)
        row = {"ahead": ahead, "steps": args.steps, "seed": args.seed, "cpu_s": round(time.process_time() - c0, 1),
               **d.as_dict(), "gain_vs_bigram": round(1 - d.network_perplexity / d.bigram_perplexity, 4),
               "blend_gain_vs_bigram": round(1 - d.blend_perplexity / d.bigram_perplexity, 4)}
        print(json.dumps(row), flush=True)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
