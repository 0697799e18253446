"""`distill-tui encode` and `distill-tui decode`: audio <-> `*.codes.json`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import BadInputError, printable
from . import print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("encode", help="encode an audio file into a codes document")
    p.add_argument("model", type=Path)
    p.add_argument("audio", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.codes.json")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_encode)

    p = subparsers.add_parser("decode", help="decode a codes document to audio")
    p.add_argument("model", type=Path)
    p.add_argument("codes", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.wav or OUT.flac")
    p.add_argument("--bits", choices=["16", "24", "float"], default="16")
    p.add_argument("--levels", type=int, help="decode with levels 1..N only (hear what each level adds)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_decode)


def run_encode(args: argparse.Namespace) -> int:
    from ..inference.codec import load_codec

    codec = load_codec(args.model)
    grid = codec.encode_file(args.audio)
    grid.save(args.output)
    if args.json:
        print_json({"output": printable(args.output), "levels": grid.levels, "positions": grid.positions,
                    "seconds": round(grid.seconds, 3), "model_fingerprint": grid.model_fingerprint})
    else:
        print(f"{printable(args.output)}: {grid.levels} levels x {grid.positions} positions ({grid.seconds:.2f} s)")
    return 0


def run_decode(args: argparse.Namespace) -> int:
    from ..audio.io import save_audio
    from ..codes.grid import CodeGrid
    from ..inference.codec import load_codec

    codec = load_codec(args.model)
    grid = CodeGrid.load(args.codes)
    try:
        grid.check_model(codec.fingerprint, codec.codebook_sizes, args.codes)
    except BadInputError:
        raise
    muted: list[int] = []
    if args.levels is not None:
        if not 1 <= args.levels <= grid.levels:
            raise BadInputError(f"--levels must be between 1 and {grid.levels}")
        muted = list(range(args.levels, grid.levels))
    result = codec.decode(grid, muted=muted)
    save_audio(args.output, result.audio, codec.spec.sample_rate, bits=args.bits)
    if args.json:
        print_json({"output": printable(args.output), "seconds": round(len(result.audio) / codec.spec.sample_rate, 3),
                    "sample_rate": codec.spec.sample_rate})
    else:
        print(f"{printable(args.output)}: {len(result.audio) / codec.spec.sample_rate:.2f} s at {codec.spec.sample_rate} Hz")
    return 0
