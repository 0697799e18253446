"""`distill-tui train DATA_DIR -o MODEL`: stage-1 training in a resumable run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import SpectrogramConfig, TrainConfig, check_fields, from_dict, load_toml, to_dict
from ..errors import BadInputError
from . import add_force, apply_budget, check_new_output, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a model (a small RVQ-VAE) that turns a folder of sounds into codes and back",
                              description="Train an RVQ-VAE on a folder of sounds (recursively). Running the same "
                              "command again resumes an interrupted run.")
    p.add_argument("data_dir", type=Path, help="folder of audio files (wav, flac, ogg, mp3, aiff)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the model file to write (MODEL.distill)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--steps", type=int, help="training steps (default 4000)")
    g.add_argument("--minutes", type=float, help="train for this many minutes of compute instead")
    p.add_argument("--clock", choices=["wall", "cpu"], help="what --minutes counts: wall time (default) or this "
                   "process's CPU time / threads (comparable budgets on a shared machine)")
    p.add_argument("--run", type=Path, help="run folder (default: MODEL.run beside the output)")
    p.add_argument("--device", default=None, help="auto (CUDA, then MPS, then CPU), cpu, cuda or mps")
    p.add_argument("--seed", type=int, default=None, help="random seed (a CPU run is reproducible)")
    p.add_argument("--config", type=Path, help="TOML file with [spectrogram], [model] and [train] tables")
    p.add_argument("--levels", type=int, help="quantizer levels (default from the dataset: 2-4)")
    p.add_argument("--codebook-size", type=int, help="codes per level (default from the dataset: 64/128/256)")
    p.add_argument("--stride", type=int, help="time downsampling: spectrogram frames per grid position (4 or 8)")
    p.add_argument("--sample-rate", type=int, help="model sample rate, 16000-48000 (default: the folder's most common "
                   "rate, so 44.1 or 48 kHz libraries keep their full band; 22050 trains faster)")
    p.add_argument("--batch-size", type=int, help="training crops per step (default 16; halved on running out of device memory)")
    p.add_argument("--eval-every", type=int, help="validate every N steps (default 200)")
    p.add_argument("--keep", choices=["final", "best"], help="which state to write: the final one (default) or "
                   "the one with the best validation (with --holdout files: the best on sounds it never trained on)")
    p.add_argument("--holdout", choices=["none", "files", "crops"], help="what validation measures: the sounds "
                   "trained on (none, the default), ~10%% of the files held out whole, or the last crop of each file")
    p.add_argument("--trim-silence", action="store_true", help="cut leading and trailing silence from every file")
    p.add_argument("--no-quantizer", action="store_true", help="continuous bottleneck (the baseline; makes no codes)")
    add_force(p, "MODEL (a model file already there, and its prior, are replaced when training ends)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=run)


def build_request(args: argparse.Namespace):
    from ..train.runfolder import check_writable_folder
    from ..train.vqvae_loop import TrainRequest

    tables = load_toml(args.config) if args.config else {}
    spec_table = tables.get("spectrogram", {})
    try:
        spec = from_dict(SpectrogramConfig, spec_table)
        tc = from_dict(TrainConfig, tables.get("train", {}))
    except BadInputError as exc:  # name the file the value came from
        raise BadInputError(exc.reason, args.config) from exc
    overrides = dict(tables.get("model", {}))
    if args.sample_rate:
        spec.sample_rate = args.sample_rate
    spec.validate()
    apply_budget(tc, args.steps, args.minutes)
    given = {name: getattr(args, name) for name in ("device", "seed", "batch_size", "eval_every", "clock", "keep",
                                                     "holdout") if getattr(args, name) is not None}
    check_fields("TrainConfig", given)  # the config file's bounds: --batch-size 0, --eval-every 0 and --seed -1 were
    for name, value in given.items():  # Python errors, exit 1, and --batch-size 100000 was killed for memory
        setattr(tc, name, value)
    for flag, value in (("--levels", args.levels), ("--codebook-size", args.codebook_size)):
        if value is not None and value < 1:  # 0 read as "not given" and trained with the sounds' choice
            raise BadInputError(f"{flag} must be at least 1 (leave it out to let the sounds choose)")
    if args.levels is not None:
        overrides["levels"] = args.levels
    if args.codebook_size is not None:
        overrides["codebook_size"] = args.codebook_size
    if args.stride is not None:
        overrides["stride"] = args.stride
    if args.no_quantizer:
        overrides["quantize"] = False
    if args.trim_silence:
        tc.trim_silence = True
    if "codebook_sizes" in overrides and "levels" not in overrides:
        overrides["levels"] = len(overrides["codebook_sizes"])
    output = args.output
    if output.exists() and output.is_dir():
        raise BadInputError("output is a folder; give a file name like MODEL.distill", output)
    check_writable_folder(output, "model file")  # before the run folder beside it is made, and before training
    run_dir = args.run or output.with_name(output.name + ".run")
    if not (run_dir / "run.json").exists():  # a fresh run (a resumed or finished one finds its own output)
        check_new_output(output, getattr(args, "force", False))
    given = {k for k in ("sample_rate", "n_fft", "hop_length") if k in spec_table} | ({"sample_rate"} if args.sample_rate else set())
    return TrainRequest(data_dir=args.data_dir, output=output, run_dir=run_dir, spec=spec, train=tc, model_overrides=overrides,
                        spec_given=frozenset(given))


def run(args: argparse.Namespace) -> int:
    from ..train.display import TrainDisplay
    from ..train.vqvae_loop import train_vqvae

    req = build_request(args)
    with TrainDisplay("training", enabled=not args.quiet) as display:
        result = train_vqvae(req, echo=display)
    if result.status == "stopped":
        display.say(f"stopped at step {result.step}; checkpoint in {result.run_dir}. Run the same command to resume.")
    else:
        display.say(f"model written to {result.output} (fingerprint {result.fingerprint}, validation {result.best_val_db:.2f} dB)")
    if args.json:
        print_json({"status": result.status, "output": str(result.output) if result.output else None,
                    "run_dir": str(result.run_dir), "step": result.step, "seconds": round(result.seconds, 2),
                    "best_val_db": result.best_val_db, "fingerprint": result.fingerprint, "health": result.health,
                    "warnings": result.warnings, "train": to_dict(req.train)})
    return 130 if result.status == "stopped" else 0
