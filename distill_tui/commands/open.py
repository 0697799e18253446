"""`distill-tui open [MODEL] [AUDIO ...]` (and plain `distill-tui`): the editor, on a model or the bundled demo."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "open", help="open the editor (no MODEL: the bundled demo model and sounds)",
        description="Open the code-grid editor on a model and sounds (audio files are encoded; .codes.json files "
        "are opened as they are; a folder opens every audio file in it and below it). Without MODEL, the bundled "
        "demo model and its sounds.")
    p.add_argument("model", type=Path, nargs="?", help="MODEL.distill (default: samples/demo.distill)")
    p.add_argument("audio", type=Path, nargs="*", help="sounds to open: audio files, folders of them, or .codes.json files of this model")
    p.add_argument("--theme", help="theme name (themes/ or ~/.config/distill-tui/themes; default distill-dark)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..inference.session import demo_paths

    model, audio = args.model, expand_folders(list(args.audio))
    if model is None:
        model, audio = demo_paths()  # a missing or broken model is reported inside the app, which keeps running
    from ..tui.app import DistillApp

    DistillApp(model, audio, theme=args.theme).run()
    return 0


def expand_folders(paths: list[Path]) -> list[Path]:
    """Each folder among `paths` replaced by the audio files in it and below it (sorted, as training reads a
    folder); files are kept as given. A folder without one is a `BadInputError` naming it."""
    from ..data.audio_files import find_audio
    from ..errors import BadInputError

    out: list[Path] = []
    for path in paths:
        if not path.is_dir():
            out.append(path)
            continue
        found = find_audio(path)
        if not found:
            raise BadInputError("no audio files in this folder or below it", path)
        out += found
    return out
