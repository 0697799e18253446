"""train-prior's fold phase, run once and kept, then decided under two rules for the blend's evaluation step.

    PYTHONPATH=$PWD python bench/bench_prior_fold_rules.py MODEL DATA_DIR --seed S --out FOLDS.json  # run, keep
    PYTHONPATH=$PWD python bench/bench_prior_fold_rules.py --load FOLDS.json                          # decide only

The folds are run exactly as `train-prior --minutes 3 --clock cpu` runs them (calibrated step count, one
fresh network per fold, every blend candidate scored at every evaluation) and written as JSON. Then, with the
cross-level table allowed and not: the blend read at the network's own best evaluation (the rule in
`prior_folds._choose_blend`) and at the evaluation chosen together with the weights (the rule before). Each
line gives the honest (nested) and fitted perplexity gain over the same-level bigram. With --out, F.npz beside
F.json keeps the codes and the network's per-code log-probabilities, which bench_prior_ngram.py re-blends.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distill_tui.train import prior_folds  # noqa: E402
from distill_tui.train.prior_folds import FoldResult, decide  # noqa: E402


def run_folds(model: Path, data: Path, seed: int) -> dict:
    import torch

    from distill_tui.data.dataset import scan
    from distill_tui.inference.codec import Codec, build_vqvae
    from distill_tui.model.prior import adaptive_prior_config
    from distill_tui.persistence.model_file import load_model_file
    from distill_tui.train.prior_data import encode_files
    from distill_tui.train.prior_folds import calibrate, run_fold
    from distill_tui.train.prior_loop import PriorTrainConfig, fold_plan
    from distill_tui.train.state import make_clock

    torch.set_num_threads(1)
    mf = load_model_file(model)
    vq, spec = build_vqvae(mf, model)
    codec = Codec(vq, spec, mf.fingerprint, mf.document)
    files = scan(data, spec, max_file_seconds=mf.document.training.max_file_seconds).files
    tc = PriorTrainConfig(minutes=3, clock="cpu", seed=seed, steps=1_000_000_000)
    codes, folds, _ = fold_plan(encode_files(codec, files, tc), tc)
    cfg = adaptive_prior_config(len(files), codec.cfg.levels, codec.codebook_sizes)
    clock = make_clock("cpu")
    per_run = tc.minutes * 60 * 0.95 / (len(folds) + 1)  # as PriorTrainer._cross_validate shares the budget
    steps = calibrate(cfg, tc, codes, folds[0], per_run, clock)
    scored: list[list[list[np.ndarray]]] = []  # per fold, per evaluation, per held-out grid: (N,) log p
    original = prior_folds.level_scores

    def capture(model, grids, tables=None, **kw):  # noqa: ANN001, ANN202 - records the network's per-slot log p
        slots = kw.pop("slot_logp", None) or [np.zeros(g.size) for g in grids]  # run_fold asks for them itself
        out = original(model, grids, tables, slot_logp=slots, **kw)
        scored[-1].append(slots)
        return out

    prior_folds.level_scores = capture
    results = []
    for h in folds:
        scored.append([])
        fold = run_fold(cfg, tc, codes, h, steps, clock=clock, limit_s=1.5 * per_run)
        fold.slots = None  # kept in F.npz instead (the network's per-slot log p; the counts are recomputed)
        results.append(dataclasses.asdict(fold))
    prior_folds.level_scores = original
    slots = {"held_out": [list(h) for h in folds], "network_slots": scored}
    return {"steps": steps, "n": len(codes.grids), "seed": seed, "folds": results, "codes": codes, "slots": slots}


def save_slots(path: Path, dump: dict) -> None:
    """The codes and the network's per-slot log-probabilities beside the JSON (numbers only, no pickles)."""
    codes, slots = dump["codes"], dump["slots"]
    arrays = {f"grid{i}": g for i, g in enumerate(codes.grids)}
    arrays.update({f"aug{j}": g for j, g in enumerate(codes.augmented)})
    arrays["aug_sources"] = np.array([sorted(s) + [-1] * (2 - len(s)) for s in codes.sources], dtype=np.int64).reshape(-1, 2)
    for f, held in enumerate(slots["held_out"]):
        arrays[f"held{f}"] = np.array(held, dtype=np.int64)
        for e, per_grid in enumerate(slots["network_slots"][f]):
            for k, v in enumerate(per_grid):
                arrays[f"net{f}_{e}_{k}"] = v.astype(np.float32)
    np.savez_compressed(path, **arrays)


def own_step_choice(b_tok: np.ndarray, allowed: np.ndarray, net: np.ndarray) -> tuple[int, int, list[int]]:
    """The rule before: the evaluation (>= 1) chosen together with the group and the per-level weights."""
    best = None
    for e in range(1, b_tok.shape[1]):
        one = np.full_like(net, 1.0)
        one[:, e] = 0.0  # makes `_choose_blend` read evaluation e
        _, g, picks = prior_folds.__dict__["_network_step_choice"](b_tok, allowed, one)
        score = float(np.mean([b_tok[:, e, picks[q], q].mean() for q in range(b_tok.shape[3])]))
        if best is None or score < best[0]:
            best = (score, e, g, picks)
    assert best is not None
    return best[1], best[2], best[3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path, nargs="?")
    ap.add_argument("data", type=Path, nargs="?")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--load", type=Path)
    args = ap.parse_args()
    if args.load:
        dump = json.loads(args.load.read_text())
    else:
        dump = run_folds(args.model, args.data, args.seed)
        if args.out:
            save_slots(args.out.with_suffix(".npz"), dump)
            dump = {k: v for k, v in dump.items() if k not in ("codes", "slots")}
            args.out.write_text(json.dumps(dump))
    folds = [FoldResult(**f) for f in dump["folds"]]
    prior_folds._network_step_choice = prior_folds._choose_blend
    for rule in ("network's step", "own step"):
        if rule == "own step":
            prior_folds._choose_blend = own_step_choice
        for cross, ngram in ((True, True), (True, False), (False, False)):
            d = decide(folds, dump["n"], dump["steps"], cross, ngram)
            gain = lambda nll, b=d.bigram_perplexity: f"{100 * (1 - math.exp(nll) / b):.1f} %"  # noqa: E731
            print(json.dumps({"rule": rule, "cross_level": cross, "ngram": ngram, "fold_steps": dump["steps"],
                              "network": gain(d.network_mean), "blend_honest": gain(d.blend_mean),
                              "blend_fitted": gain(d.blend_mean_fitted), "blend_step": d.blend_step,
                              "weights": [float(w) for w in d.blend_weights],
                              "cross_weights": [float(w) for w in d.cross_weights],
                              "ngram_weights": [float(w) for w in d.ngram_weights]}))
    prior_folds._choose_blend = prior_folds._network_step_choice


if __name__ == "__main__":
    main()
