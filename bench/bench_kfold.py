"""Compare prior training variants by k-fold held-out NLL against the same-level bigram (issue 14).

    python bench/bench_kfold.py MODEL DATA_DIR --steps 400 --variant NAME:key=value;key=value [...]
        [--folds 5] [--seed 0] [--out rows.jsonl]

The sounds are encoded once with every augmentation any variant asks for (cached by the VQ-VAE's
fingerprint); each variant then runs the same folds as `train-prior` does (`train/prior_folds.py`),
a fresh network per fold trained `--steps` steps, and prints one JSON row: fold-mean held-out NLL per
level for the network (at the best evaluation step) and the bigram, their spread over folds, and the
perplexities. Keys of PriorTrainConfig go to training, others to the prior's shape. Augmentation keys
(pitch_semitones, gain_db, time_shifts, mixes_per_file) select which of the encoded copies a variant trains on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distill_tui.data.dataset import scan  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.model.prior import adaptive_prior_config  # noqa: E402
from distill_tui.threads import torch_threads  # noqa: E402
from distill_tui.train.prior_data import FileCodes, encode_files  # noqa: E402
from distill_tui.train.prior_folds import decide, make_folds, run_fold  # noqa: E402
from distill_tui.train.prior_loop import PriorTrainConfig  # noqa: E402

TRAIN_KEYS = {f.name for f in dataclasses.fields(PriorTrainConfig)}
AUG_KEYS = ("pitch_semitones", "gain_db", "time_shifts")


def parse_variant(text: str) -> tuple[str, dict, dict]:
    name, _, rest = text.partition(":")
    prior, train = {}, {}
    for item in filter(None, rest.split(";")):
        key, _, value = item.partition("=")
        parsed = value if value in {"transformer", "lstm"} else json.loads(value)
        (train if key in TRAIN_KEYS else prior)[key] = parsed
    return name, prior, train


def select(full: FileCodes, tc: PriorTrainConfig) -> FileCodes:
    """The augmented grids of `full` that this variant's augmentation settings ask for."""
    wanted = {f"pitch{v:+g}" for v in tc.pitch_semitones} | {f"gain{v:+g}" for v in tc.gain_db} | \
        {f"shift{v:g}" for v in tc.time_shifts} | ({"mix"} if tc.mixes_per_file > 0 else set())
    keep = [i for i, kind in enumerate(full.kinds) if tc.augment and kind in wanted]
    return FileCodes(full.names, full.grids, [full.augmented[i] for i in keep], [full.sources[i] for i in keep],
                     [full.kinds[i] for i in keep])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variant", action="append", default=[])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    variants = [parse_variant(v) for v in args.variant] or [("default", {}, {})]
    codec = load_codec(args.model)
    spec = codec.spec
    files = scan(args.data_dir, spec, max_file_seconds=codec.doc.training.max_file_seconds).files
    union = PriorTrainConfig(seed=args.seed)
    for _, _, kw in variants:
        for key in AUG_KEYS:
            setattr(union, key, sorted(set(getattr(union, key)) | set(kw.get(key, []))))
    t0 = time.time()
    with torch_threads(1):
        full = encode_files(codec, files, union)
    print(json.dumps({"encoded_files": len(full.names), "augmented": len(full.augmented), "cached": full.cached,
                      "encode_s": round(time.time() - t0, 1)}), flush=True)
    folds = make_folds(len(full.names), args.seed, args.folds)
    for name, prior_kw, train_kw in variants:
        tc = PriorTrainConfig(seed=args.seed, **train_kw)
        codes = select(full, tc)
        cfg = adaptive_prior_config(len(full.names), codec.cfg.levels, codec.codebook_sizes, **prior_kw)
        c0, w0 = time.process_time(), time.time()
        with torch_threads(1):
            results = [run_fold(cfg, tc, codes, held, args.steps) for held in folds]
        d = decide(results, len(full.names), args.steps)
        row = {"variant": name, "prior": prior_kw, "train": train_kw, "steps": args.steps, "seed": args.seed,
               "augmented": len(codes.augmented), "cpu_s": round(time.process_time() - c0, 1),
               "wall_s": round(time.time() - w0, 1), **d.as_dict(),
               "gain_vs_bigram": round(1 - d.network_perplexity / d.bigram_perplexity, 4),
               "curve": [[r.steps[i], round(sum(r.network[i]) / sum(r.tokens), 4)] for r in results[:1]
                         for i in range(len(r.steps))]}
        print(json.dumps(row), flush=True)
        if args.out:
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
