"""Generated sounds of a blended prior, of its network alone, and of its bigram alone: plausibility and copying.

Also, when the prior has them, the blend without its sound memory and without its cross-level table (and n-gram).

    PYTHONPATH=$PWD python bench/bench_prior_blend.py MODEL DATA_DIR [-n 20] [--seconds 4] [--seed 0]

MODEL's prior must be a blend (`train-prior` stores one when the folds chose it, docs/architecture.md). The
three generators draw with the same seeds; the bigram is the blend's own table (every file's codes and their
augmented copies, the folds' smoothing). Prints one JSON object per generator pair, as
`analysis.generated.generation_report` gives it (no loops).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distill_tui.analysis.generated import generation_report  # noqa: E402
from distill_tui.config import from_dict, to_dict  # noqa: E402
from distill_tui.data.dataset import scan  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.inference.generate import Prior, positions_for_seconds  # noqa: E402
from distill_tui.model.prior import PriorConfig, PriorModel  # noqa: E402
from distill_tui.threads import torch_threads  # noqa: E402


def network_alone(prior: Prior) -> Prior:
    """The blended prior's network without its bigram (and cross-level table)."""
    cfg = from_dict(PriorConfig, {**to_dict(prior.cfg), "blend": "none", "blend_weights": [], "cross_weights": [],
                                  "ngram_weights": [], "ngram_order": 0, **NO_MEMORY})
    model = PriorModel(cfg)
    state = {k: v for k, v in prior.model.state_dict().items() if k not in ("bigram", "cross", "ngram.table")}
    model.load_state_dict(state, strict=True)
    return Prior(model, prior.fingerprint, prior.doc)


NO_MEMORY = {"memory_modes": [], "memory_decays": [], "memory_kappas": []}


def without_memory(prior: Prior) -> Prior | None:
    """The stored blend without the sound's memory (model/memory.py), or None when it has none."""
    if not prior.cfg.memory_modes:
        return None
    model = PriorModel(from_dict(PriorConfig, {**to_dict(prior.cfg), **NO_MEMORY}))
    model.load_state_dict(prior.model.state_dict(), strict=True)
    return Prior(model, prior.fingerprint, prior.doc)


def without_cross(prior: Prior) -> Prior | None:
    """The network and the bigram with the weights the folds chose for them alone (`blend_without_cross`), or None."""
    pair = (prior.doc.folds or {}).get("blend_without_cross") if prior.doc is not None else None
    if not prior.model.use_cross or not pair or pair.get("kind") != "linear":
        return None
    cfg = from_dict(PriorConfig, {**to_dict(prior.cfg), "blend_weights": pair["weights"], "cross_weights": [],
                                  "ngram_weights": [], "ngram_order": 0, **NO_MEMORY})
    model = PriorModel(cfg)
    model.load_state_dict({k: v for k, v in prior.model.state_dict().items() if k not in ("cross", "ngram.table")},
                          strict=True)
    return Prior(model, prior.fingerprint, prior.doc)  # its bigram is the stored one (the cross blend's smoothing)


def blend_bigram_tables(prior: Prior) -> tuple[list, list]:
    """The blend's bigram as log tables: starts (K,) and transitions (K, K) per level."""
    table = prior.model.bigram.detach().double().numpy()  # (V + Q, V)
    cfg = prior.cfg
    pairs = list(zip(cfg.offsets, cfg.codebook_sizes, strict=True))
    return ([table[cfg.vocab + q, o : o + k] for q, (o, k) in enumerate(pairs)],
            [table[o : o + k, o : o + k] for o, k in pairs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with torch_threads(1):
        codec = load_codec(args.model)
        prior = Prior.from_model_file(args.model)
        if not prior.model.use_blend:
            sys.exit(f"error: {args.model}: its prior is not a blend (config blend {prior.cfg.blend!r})")
        corpus = [f.samples for f in scan(args.data, codec.spec).files]
        spec = codec.spec
        positions = positions_for_seconds(args.seconds, spec.sample_rate, spec.hop_length, codec.cfg.stride)
        bigram = blend_bigram_tables(prior)
        pair = without_cross(prior)
        generators = [("blend", prior), ("network alone", network_alone(prior))]
        generators += [("blend without the memory", p)] if (p := without_memory(prior)) is not None else []
        generators += [("blend without the cross-level table", pair)] if pair is not None else []
        for name, p in generators:
            t0 = time.perf_counter()
            report = generation_report(codec, p, corpus, args.n, positions, seed=args.seed, loops=0, bigram=bigram)
            row = report.as_dict()
            print(json.dumps({"generator": name, "network_db": row["network"]["plausibility_db"],
                              "bigram_db": row["bigram"]["plausibility_db"],
                              "network_more_plausible": row["network_more_plausible"],
                              "wall_s": round(time.perf_counter() - t0, 1), "report": row}), flush=True)


if __name__ == "__main__":
    main()
