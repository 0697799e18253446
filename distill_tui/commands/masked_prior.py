"""`distill-tui train-prior MODEL --shape masked`: the masked prior, stored beside the causal one (no subcommand)."""

from __future__ import annotations

import argparse

from ..config import check_fields
from ..errors import BadInputError
from . import apply_budget, check_prior_replaced, check_prior_shape, print_json


class _Echo:
    """Feeds the shared training display; the masked prior's own events get their own words."""

    def __init__(self, display) -> None:
        self.display = display

    def __call__(self, ev: dict) -> None:
        d = self.display
        if ev.get("event") == "eval":
            d.info["val"] = f"guessing hidden codes: {ev['train_nll']:.2f} nats each"
            if not d.live:
                d.say(f"step {ev['step']}: {ev['train_nll']:.3f} nats per hidden code on the training sounds")
            return
        if ev.get("event") == "start":
            d.say(f"starting: {ev.get('files')} files ({ev.get('augmented_grids')} augmented copies), masked prior "
                  f"with {ev.get('parameters'):,} parameters on {ev.get('device')}")
            return
        d(ev)


def run_masked(args: argparse.Namespace) -> int:
    """Train (or resume) the masked prior of MODEL; region regeneration and `vary` then use it."""
    from ..persistence.model_file import read_document
    from ..train.display import TrainDisplay
    from ..train.masked_loop import MaskedRequest, MaskedTrainConfig, result_json, train_masked
    from ..train.runfolder import check_writable_folder

    if args.architecture is not None:
        raise BadInputError("--architecture is for the causal prior; the masked prior has one shape (--shape masked)")
    tc = MaskedTrainConfig()
    apply_budget(tc, args.steps, args.minutes)
    if args.seed is not None:
        check_fields("PriorTrainConfig", {"seed": args.seed})
    for name in ("seed", "device", "clock"):
        if getattr(args, name) is not None:
            setattr(tc, name, getattr(args, name))
    tc.augment = not args.no_augment
    check_prior_shape(args)
    if args.model.is_dir():
        raise BadInputError("is a folder, not a model file", args.model)
    check_writable_folder(args.model, "model file")
    overrides = {"window": args.context, "layers": args.layers, "d_model": args.d_model, "dropout": args.dropout}
    run_dir = args.run or args.model.with_name(args.model.name + ".masked-run")
    check_prior_replaced(args.model, run_dir, "masked_prior", args.force)
    req = MaskedRequest(args.model, run_dir, args.data_dir, tc, {k: v for k, v in overrides.items() if v is not None})
    with TrainDisplay("masked prior", enabled=not args.quiet) as display:
        result = train_masked(req, echo=_Echo(display))
    if result.status == "stopped":
        display.say(f"stopped at step {result.step}; checkpoint in {result.run_dir}. Run the same command to resume.")
    else:
        display.say(f"masked prior written into {result.model_path} ({result.parameters:,} parameters, {result.step} "
                    f"steps): regenerating a region or making variations now fills them from both sides")
        if read_document(args.model).prior is None:
            display.say("note: generating from nothing, and regenerating, also need the causal prior: "
                        "run `distill-tui train-prior MODEL`")
    if args.json:
        print_json(result_json(result))
    return 130 if result.status == "stopped" else 0
