"""`distill-tui train-prior MODEL [DATA_DIR]`: stage 2, the prior, stored in the same model file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import check_fields
from ..errors import BadInputError
from ..words import counted
from . import add_force, apply_budget, check_prior_replaced, check_prior_shape, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train-prior", help="train the prior that generates new codes (stage 2)",
        description="Freeze the model's VQ-VAE, encode the sounds, and train a small autoregressive prior on their "
        "codes; it is written into MODEL itself (the VQ-VAE is left as it was). Running the same command again "
        "resumes an interrupted run.")
    p.add_argument("model", type=Path, help="MODEL.distill, trained by `distill-tui train`")
    p.add_argument("data_dir", type=Path, nargs="?", help="folder of sounds (default: the one the model was trained on)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--steps", type=int, help="steps for each cross-validation fold and for the final prior (default 600)")
    g.add_argument("--minutes", type=float, help="at most this many minutes of compute for the folds and the final "
                   "prior together, instead")
    p.add_argument("--clock", choices=["wall", "cpu"], help="what --minutes counts: wall time (default) or this "
                   "process's CPU time / threads (comparable budgets on a shared machine)")
    p.add_argument("--run", type=Path, help="run folder (default: MODEL.prior-run beside the model)")
    p.add_argument("--shape", choices=["causal", "masked"], default="causal",
                   help="causal (default): the prior that generates; masked: a second prior, stored beside it, that "
                   "regenerates regions and variations from both sides (--context is then its window)")
    p.add_argument("--architecture", choices=["transformer", "lstm"], help="default: transformer (see bench/RESULTS.md)")
    p.add_argument("--context", type=int, help="time positions the prior reads at once (even; default 16, about 0.75 s)")
    p.add_argument("--layers", type=int, help="default from the dataset: 2 under 200 files")
    p.add_argument("--d-model", type=int, help="width; default from the dataset: 64 under 200 files")
    p.add_argument("--dropout", type=float, help="default 0.3")
    p.add_argument("--no-augment", action="store_true", help="train on the sounds as they are (no pitch, gain or time-shifted copies, no mixes)")
    p.add_argument("--no-memory", action="store_true",
                   help="never lean on the sound's own earlier codes (by default the held-out sounds decide, per level)")
    p.add_argument("--seed", type=int, help="random seed; also chooses the held-out sounds (default 0, as stage 1)")
    p.add_argument("--device", help="cpu (default), auto, cuda or mps")
    add_force(p, "the prior in MODEL (of the --shape asked for; it is replaced when the new one is done)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run)


def build_request(args: argparse.Namespace):
    from ..train.prior_loop import PriorRequest, PriorTrainConfig
    from ..train.runfolder import check_writable_folder

    tc = PriorTrainConfig()
    apply_budget(tc, args.steps, args.minutes)
    if args.seed is not None:
        check_fields("PriorTrainConfig", {"seed": args.seed})  # -1 was numpy's "expected non-negative integer"
        tc.seed = args.seed
    if args.device is not None:
        tc.device = args.device
    if args.clock is not None:
        tc.clock = args.clock
    if args.no_augment:
        tc.augment = False
    if args.no_memory:
        tc.memory = False
    check_prior_shape(args)
    overrides = {"architecture": args.architecture, "context": args.context, "layers": args.layers,
                 "d_model": args.d_model, "dropout": args.dropout}
    if args.model.is_dir():
        raise BadInputError("is a folder, not a model file", args.model)
    check_writable_folder(args.model, "model file")  # the prior is written into it, at the end: say so now
    run_dir = args.run or args.model.with_name(args.model.name + ".prior-run")
    check_prior_replaced(args.model, run_dir, "prior", args.force)
    return PriorRequest(model_path=args.model, run_dir=run_dir, data_dir=args.data_dir, train=tc,
                        prior_overrides={k: v for k, v in overrides.items() if v is not None})


class _Echo:
    """Feeds the shared training display; perplexity events get their own line of text."""

    def __init__(self, display) -> None:
        self.display = display

    def __call__(self, ev: dict[str, Any]) -> None:
        d = self.display
        if ev.get("event") == "fold":
            d.say(f"fold {ev['fold']} of {ev['folds']} ({counted(len(ev['held_out']), 'sound')} held out, {ev['steps']} steps): "
                  f"best perplexity {ev['best_val_ppl']:.2f}, bigram {ev['bigram_val_ppl']:.2f}")
            return
        if ev.get("event") == "folds":
            d.say(f"mean over {ev['folds']} folds: perplexity {ev['network_perplexity']:.2f} at step {ev['best_step']}, "
                  f"bigram {ev['bigram_perplexity']:.2f}: "
                  + (f"blended with the bigram {ev['blend_perplexity']:.2f}: the blend is kept; training the network on "
                     "every sound" if ev.get("keep_blend") else
                     "the network is kept; training it on every sound" if ev["keep_network"] else "the bigram is kept"))
            return
        if ev.get("event") == "eval":
            fold = "" if ev.get("val_ppl") is None else f" (held out, mean of the folds: {ev['val_ppl']:.1f})"
            d.info["val"] = f"ppl train {ev['train_ppl']:.1f}{fold}"
            if not d.live:
                d.say(f"step {ev['step']}: perplexity on the training sounds {ev['train_ppl']:.2f}{fold}")
            return
        if ev.get("event") == "start":
            d.say(f"starting: {ev.get('files')} files ({ev.get('folds')} folds by file, then every file; "
                  f"{ev.get('augmented_grids')} augmented copies), {ev['prior']['architecture']} prior with "
                  f"{ev.get('parameters'):,} parameters on {ev.get('device')}")
            return
        d(ev)


def run(args: argparse.Namespace) -> int:
    from ..persistence.document import PriorSummary
    from ..train.display import TrainDisplay
    from ..train.prior_loop import result_json, train_prior

    if args.shape == "masked":
        from .masked_prior import run_masked

        return run_masked(args)
    req = build_request(args)
    with TrainDisplay("prior", enabled=not args.quiet) as display:
        result = train_prior(req, echo=_Echo(display))
    if result.status == "stopped":
        display.say(f"stopped at step {result.step}; checkpoint in {result.run_dir}. Run the same command to resume.")
    else:
        r = result.report
        assert r is not None
        display.say(f"prior ({result.architecture}) written into {result.model_path}: held-out perplexity "
                    f"{r.val_perplexity:.2f} (mean over {(result.folds or {}).get('folds', 1)} folds), bigram "
                    f"{r.bigram_val_perplexity:.2f}, train {r.train_perplexity:.2f}; {r.copy_rate_8gram:.0%} of generated 8-grams copied, nearest "
                    f"training grid {r.nearest_hamming:.0%} different; per level "
                    f"{', '.join(f'{c:.0%}' for c in r.copy_rate_8gram_by_level)} copied")
        for line in PriorSummary(folds=result.folds).folds_lines() or []:
            display.say(line)
        display.say(f"verdict: {r.verdict}")
    if args.json:
        print_json(result_json(result))
    return 130 if result.status == "stopped" else 0
