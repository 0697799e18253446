"""`distill-tui play FILE`: hear a sound from the command line, by the same route the TUI uses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInputError, DistillError

if TYPE_CHECKING:
    import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "play",
        help="play an audio file or a codes document (local speakers, else the listener, else a WAV)",
        description=__doc__,
    )
    parser.add_argument("file", type=Path, metavar="FILE",
                        help="audio file, or a codes document (OUT.codes.json)")
    parser.add_argument("--model", type=Path, metavar="MODEL",
                        help="the model that decodes a codes document (default: the model that made it, "
                        "found beside the document, in the folder above, or in the current folder)")
    parser.add_argument(
        "--loop", action="store_true", help="loop until Ctrl-C (on a listener: until the next clip)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..playback.routing import Router  # noqa: PLC0415 - keep CLI start-up light

    path: Path = args.file
    if path.name.endswith(".codes.json"):
        samples, sample_rate = _decode_codes(path, args.model)
        source = None
    else:
        samples, sample_rate = _read_audio(path)
        source = path
    seconds = len(samples) / sample_rate
    router = Router()
    loop = (0.0, seconds) if args.loop else None
    result = router.play(samples, sample_rate, name=path.name, loop_region=loop, source_path=source)
    stream = sys.stderr if args.json else sys.stdout
    stream.write(result.message + "\n")
    stream.flush()
    try:
        if result.route == "local":
            router.wait()
    except KeyboardInterrupt:
        router.stop()
        router.wait(0.1)
    finally:
        router.close()
    if args.json:
        from . import print_json

        first = None if result.first_sample_s is None else round(result.first_sample_s * 1000, 3)
        print_json(
            {
                "route": result.route,
                "path": None if result.path is None else str(result.path),
                "seconds": round(seconds, 4),
                "sample_rate": sample_rate,
                "first_sample_ms": first,
                "message": result.message,
            }
        )
    return 0


def _read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Samples as they are in the file: stereo stays stereo (to hear an export's width), more is mixed to mono."""
    from ..audio.io import load_audio, read_channels

    loaded = load_audio(path)  # validates: missing, unreadable, empty, NaN -> AudioError naming the file
    if loaded.source_channels == 2:
        return read_channels(path)
    return loaded.samples, loaded.sample_rate


def _model_beside(path: Path) -> Path:
    """The model a codes document was made by, when no --model is given (`persistence.model_of_codes`)."""
    from ..persistence.model_of_codes import model_of_codes

    found = model_of_codes(path)
    if found.model is None:
        raise BadInputError(f"playing a codes document needs --model MODEL ({found.why_not()})", path)
    print(f"decoding with {found.model} (the model of {path.name}, found by its fingerprint)", file=sys.stderr)
    return found.model


def _decode_codes(path: Path, model: Path | None) -> tuple[np.ndarray, int]:
    """Decode a codes document with its model (the decode API lives in `inference/codec.py`); without
    --model, the model beside it that made it (`_model_beside`)."""
    if model is None:
        model = _model_beside(path)
    try:
        from ..codes.grid import CodeGrid
        from ..inference.codec import load_codec
    except ImportError as exc:
        raise DistillError("decoding codes needs the model API", path) from exc
    from ..errors import AudioError

    codec = load_codec(model)
    grid = CodeGrid.load(path)
    grid.check_model(codec.fingerprint, codec.codebook_sizes, path)  # named, before decode's own unnamed check
    try:  # at most the decoder's default length (10 minutes); `decode --max-minutes` writes longer ones
        if grid.loop:  # one cycle decoded as a loop, as the editor plays it round
            from ..inference.loops import loop_cycle

            return loop_cycle(codec, grid), codec.spec.sample_rate
        return codec.decode(grid).audio, codec.spec.sample_rate
    except AudioError as exc:  # NaN levels, too long: name the codes file
        raise AudioError(exc.reason, path) from exc
