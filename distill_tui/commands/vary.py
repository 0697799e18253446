"""`distill-tui vary MODEL SOUND -n N -o DIR`: N variations of a sound, its kept levels resampled by the prior."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInputError, printable
from ..fileio import check_folder_can_be_made, make_folder
from ..persistence.model_of_codes import note_model
from ..words import numbered
from . import check_count, print_json
from .generate import parse_region

if TYPE_CHECKING:
    from ..inference.sampling import SamplingSettings

CODES_SUFFIX = ".codes.json"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "vary", help="variations of a sound",
        description="Keep the coarse level(s) of a sound (its loudness and shape over time) and resample the other "
        "levels with the model's prior, N times. Writes DIR/NAME-var1.wav … and a .codes.json beside each.")
    p.add_argument("model", type=Path, metavar="MODEL", help="MODEL.distill with a prior (`distill-tui train-prior MODEL`)")
    p.add_argument("sound", type=Path, metavar="SOUND", help="an audio file, or a .codes.json made by this model")
    p.add_argument("-n", type=int, default=4, help="how many variations (default 4)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="folder for the variations (made if missing)")
    p.add_argument("--keep-levels", default="1", metavar="LEVELS", help="levels to keep from the sound, e.g. 1 or 1,2 (1 = coarsest; none: vary all; default 1)")
    p.add_argument("--region", metavar="A:B", help="START:END positions to vary (default: the whole sound)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T", help="above 0; lower is closer, higher wilder (default 1)")
    p.add_argument("--top-k", type=int, metavar="K", help="sample only from the K likeliest codes")
    p.add_argument("--top-p", type=float, metavar="P", help="sample only from the likeliest codes that together reach P, in (0, 1]")
    p.add_argument("--seed", type=int, metavar="S", help="same seed, settings and sound give the same variations (on CPU)")
    p.add_argument("--max-seconds", type=float, metavar="S", help="refuse sounds longer than this (default 60 s: variations are for "
                   "one-shots, loops and textures)")
    p.add_argument("--any-shape", action="store_true", help="keep the first N drawn; by default 3 x N are drawn and the N "
                   "that keep the sound's loudness over time and still change it are kept")
    p.add_argument("--nudge", action="store_true", help="move the kept levels a little too: at some positions their "
                   "code becomes one the model places beside it (for a kick or a drone whose variations come out subtle)")
    p.add_argument("--force", action="store_true", help="overwrite variations already in the folder")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run)


def sound_name(path: Path) -> str:
    """The name variations are numbered from: the file name without .wav or .codes.json."""
    name = path.name
    return name[: -len(CODES_SUFFIX)] if name.lower().endswith(CODES_SUFFIX) else path.stem


def output_paths(folder: Path, name: str, n: int) -> list[tuple[Path, Path]]:
    """(audio, codes) paths of variations 1..n."""
    return [(folder / f"{name}-var{k}.wav", folder / f"{name}-var{k}{CODES_SUFFIX}") for k in range(1, n + 1)]


def check_outputs(folder: Path, pairs: list[tuple[Path, Path]], force: bool) -> None:
    """Refuse an output that is not a folder, or variations already there (unless `force`)."""
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"-o {printable(folder)} is a file, not a folder")
    present = [p for pair in pairs for p in pair if p.exists()]
    if present and not force:
        more = f" and {len(present) - 1} more" if len(present) > 1 else ""
        raise BadInputError(f"-o {printable(folder)}: {printable(present[0].name)}{more} already there; "
                            "use --force to overwrite")
    check_folder_can_be_made(folder, "variations")  # "FileNotFoundError: [Errno 2] ..." came after the sampling


def run(args: argparse.Namespace) -> int:
    from ..audio.io import save_audio
    from ..codes.grid import CodeGrid
    from ..inference.codec import Codec, build_vqvae
    from ..inference.generate import Prior
    from ..inference.variations import (
        MAX_SECONDS,
        Variation,
        load_sound,
        near_codes,
        parse_levels,
        shape_judge,
        vary,
    )
    from ..persistence.model_file import load_model_file

    check_count(args.n)
    max_seconds = MAX_SECONDS if args.max_seconds is None else args.max_seconds
    settings = sampling_settings(args, max_seconds)
    name = sound_name(args.sound)
    pairs = output_paths(args.output, name, args.n)
    check_outputs(args.output, pairs, args.force)

    mf = load_model_file(args.model)
    prior = Prior.from_loaded(mf, args.model)
    keep = parse_levels(args.keep_levels, prior.levels)
    if args.nudge and not keep:
        raise BadInputError("--nudge moves the kept levels, and --keep-levels none keeps none")
    vq, spec = build_vqvae(mf, args.model)
    codec = Codec(vq, spec, mf.fingerprint, mf.document)
    source = load_sound(codec, args.sound, max_seconds)
    region = parse_region(args.region, source.positions) if args.region else None

    kept = {k: v for k, v in source.source.items() if k in {"ref_db", "gain_db", "samples", "file"}}
    keep_numbers = [lv + 1 for lv in keep]
    written: list[dict] = []
    write_s = 0.0

    def write(var: Variation) -> None:  # each variation written (and said) as soon as it is final
        nonlocal write_s
        t = time.perf_counter()
        wav, codes_path = pairs[var.index - 1]
        make_folder(args.output, "variations")
        how = {"of": name, "k": var.index, "keep_levels": keep_numbers,
               "region": list(region or (0, source.positions)), "seed": var.seed, "temperature": settings.temperature,
               "top_k": settings.top_k, "top_p": settings.top_p, "nudged": args.nudge}
        grid = CodeGrid(codes=var.codes, model_fingerprint=codec.fingerprint, codebook_sizes=codec.codebook_sizes,
                        sample_rate=spec.sample_rate, hop_length=spec.hop_length, stride=codec.cfg.stride,
                        name=f"{name}-var{var.index}", source={**kept, "variation": how})
        save_audio(wav, codec.decode(grid).audio, spec.sample_rate)
        note_model(grid.source, args.model)
        grid.save(codes_path)
        item = {"audio": str(wav), "codes": str(codes_path), "changed": round(var.changed, 4),
                "change_db": None if var.shape is None else round(var.shape.change_db, 3),
                "envelope_r": None if var.shape is None else round(var.shape.envelope_r, 4),
                "words": None if var.shape is None else var.shape.words(), "kept_moved": round(var.moved, 4)}
        written.append(item)
        if not args.json:
            moved = f", the kept codes moved at {var.moved:.0%} of the positions" if var.moved else ""
            print(f"{item['audio']}: {item['words'] or format(item['changed'], '.0%') + ' of the varied codes changed'}"
                  f"{moved}", flush=True)
        write_s += time.perf_counter() - t

    t0 = time.perf_counter()
    judge = None if args.any_shape else shape_judge(codec, source.codes, source.samples)
    result = vary(prior, source.codes, args.n, settings, keep_levels=keep, region=region, judge=judge, on_ready=write,
                  nudge=near_codes(codec) if args.nudge else None)
    sample_s = time.perf_counter() - t0 - write_s
    shapes = [v.shape for v in result.variations if v.shape is not None]
    subtle = bool(shapes) and not any(sh.audible for sh in shapes)
    out = {"sound": str(args.sound), "output": str(args.output), "n": args.n, "subtle": subtle,
           "keep_levels": [lv + 1 for lv in result.keep_levels], "nudged": args.nudge, "region": list(result.region),
           "positions": source.positions, "seconds": round(source.seconds, 3), "seed": result.seed,
           "rounds": result.rounds, "sampling_s": round(sample_s, 4), "variations": written}
    if args.json:
        print_json(out)
    else:
        say_summary(out, name, max((sh.change_db for sh in shapes), default=0.0), sample_s)
    return 0


def sampling_settings(args: argparse.Namespace, max_seconds: float) -> SamplingSettings:
    """--temperature, --top-k, --top-p and --seed, checked with --max-seconds (`BadInputError` naming the first
    that cannot be used)."""
    from ..inference.sampling import SamplingSettings

    if not max_seconds > 0:
        raise BadInputError("--max-seconds must be positive")
    settings = SamplingSettings(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    settings.validate()
    return settings


def say_summary(out: dict, name: str, most_db: float, sample_s: float) -> None:
    """The closing lines of `vary` without --json: what was kept, the seed, the time; and what to try when every
    variation came out subtle (`most_db`: the largest change among them)."""
    kept_text = numbered("level", out["keep_levels"]) if out["keep_levels"] else "no level"
    kept_text += ", moved a little" if out["nudged"] else ""
    plural = "s" if out["n"] != 1 else ""
    print(f"{out['n']} variation{plural} of {name} (keeping {kept_text}, seed {out['seed']}) in {sample_s:.2f} s of sampling")
    if out["subtle"]:
        further = "--keep-levels none redraws them all" if out["nudged"] else \
            "--nudge moves the kept levels a little too; --keep-levels none redraws them all"
        print(f"note: little of {name} lives in the levels redrawn, so every variation is within {most_db:.1f} dB of it; "
              f"{further}")
