"""`distill-tui encode` and `distill-tui decode`: audio <-> `*.codes.json`."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import BadInputError, printable
from ..persistence.model_of_codes import note_model
from . import add_force, check_new_output, print_json

DEFAULT_MAX_MINUTES = 10.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("encode", help="encode an audio file into a codes document")
    p.add_argument("model", type=Path, help="MODEL.distill, trained by `distill-tui train`")
    p.add_argument("audio", type=Path, help="an audio file (wav, flac, ogg, mp3, aiff; any rate, mixed to mono)")
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.codes.json")
    add_force(p)
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    p.set_defaults(func=run_encode)

    p = subparsers.add_parser("decode", help="decode a codes document to audio")
    p.add_argument("model", type=Path, help="the MODEL.distill that made the codes")
    p.add_argument("codes", type=Path, help="a .codes.json made by this model (`encode`, the editor, `generate`)")
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.wav or OUT.flac")
    p.add_argument("--bits", choices=["16", "24", "float"], default="16", help="sample format of the output (default 16)")
    p.add_argument("--levels", type=int, help="decode with levels 1..N only (hear what each level adds)")
    p.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_MINUTES, metavar="M",
                   help=f"refuse grids that decode to more than M minutes of audio (default {DEFAULT_MAX_MINUTES:g})")
    add_force(p)
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    p.set_defaults(func=run_decode)


def run_encode(args: argparse.Namespace) -> int:
    from ..inference.codec import load_codec

    check_new_output(args.output, args.force)  # encode x.wav -o x.wav wrote JSON over the recording
    codec = load_codec(args.model)
    grid = codec.encode_file(args.audio)
    note_model(grid.source, args.model)
    grid.save(args.output)
    if args.json:
        print_json({"output": printable(args.output), "levels": grid.levels, "positions": grid.positions,
                    "seconds": round(grid.seconds, 3), "model_fingerprint": grid.model_fingerprint})
    else:
        print(f"{printable(args.output)}: {grid.levels} levels x {grid.positions} positions ({grid.seconds:.2f} s)")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from ..audio.io import save_audio
    from ..codes.grid import CodeGrid, length_words, over_limit, peek_seconds
    from ..errors import AudioError
    from ..inference.codec import DecodeTooLong, load_codec

    if Path(args.output).suffix.lower() not in {".wav", ".flac"}:  # before the model loads; bad input: exit 2
        raise BadInputError("output must end in .wav or .flac", args.output)
    check_new_output(args.output, args.force)
    if not 0 < args.max_minutes <= 24 * 60 * 7:
        raise BadInputError(f"--max-minutes {args.max_minutes:g} must be above 0 and at most a week")
    max_seconds = args.max_minutes * 60
    hint = " (decode it with --max-minutes {})"
    declared = peek_seconds(args.codes, max_seconds=max_seconds)  # a grid that says it is huge, before parsing it
    if declared is not None:
        raise BadInputError(f"the grid says it is {length_words(declared, max_seconds)} long, over the limit of "
                            f"{args.max_minutes:g} minutes" + hint.format(_minutes_up(declared)), args.codes)
    codec = load_codec(args.model)
    grid = CodeGrid.load(args.codes)
    grid.check_model(codec.fingerprint, codec.codebook_sizes, args.codes)
    muted: list[int] = []
    if args.levels is not None:
        if not 1 <= args.levels <= grid.levels:
            raise BadInputError(f"--levels must be between 1 and {grid.levels}")
        muted = list(range(args.levels, grid.levels))
    if grid.loop and over_limit(grid.positions, codec.seconds_for(1), max_seconds):
        raise BadInputError(f"the grid is {length_words(codec.seconds_for(grid.positions), max_seconds)} long, over the limit of "
                            f"{args.max_minutes:g} minutes" + hint.format(_minutes_up(codec.seconds_for(grid.positions))), args.codes)
    try:
        if grid.loop:  # one cycle decoded as a loop: it repeats in a sampler or a DAW without a click
            from ..inference.loops import loop_cycle

            audio = loop_cycle(codec, grid, muted)
        else:
            audio = codec.decode(grid, muted=muted, max_seconds=max_seconds, progress=_progress_line()).audio
    except DecodeTooLong as exc:
        raise BadInputError(exc.reason + hint.format(_minutes_up(codec.seconds_for(grid.positions))), args.codes) from exc
    except AudioError as exc:
        raise AudioError(exc.reason, args.codes) from exc
    save_audio(args.output, audio, codec.spec.sample_rate, bits=args.bits)
    seconds = len(audio) / codec.spec.sample_rate
    if args.json:
        print_json({"output": printable(args.output), "seconds": round(seconds, 3), "sample_rate": codec.spec.sample_rate})
    else:
        print(f"{printable(args.output)}: {seconds:.2f} s at {codec.spec.sample_rate} Hz")
    return 0


def _minutes_up(seconds: float) -> str:
    """A --max-minutes value that lets `seconds` of audio through: whole minutes, rounded up."""
    return str(math.ceil(seconds / 60))


def _progress_line() -> Callable[[int, int], None] | None:
    """Progress on stderr for long decodes (only on a terminal: logs and pipes get nothing)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        if total > 1:
            sys.stderr.write(f"\rdecoding: {100 * done // total}%" + ("\n" if done == total else ""))
            sys.stderr.flush()

    return show
