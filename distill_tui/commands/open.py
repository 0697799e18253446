"""`distill-tui open [MODEL] [AUDIO ...]` (and plain `distill-tui`): the editor, on a model or the bundled demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import BadInputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "open", help="open the editor (no MODEL: the bundled demo model and sounds)",
        description="Open the code-grid editor on a model and sounds (audio files are encoded; .codes.json files "
        "are opened as they are; a folder opens every audio file in it and below it). Without MODEL, the bundled "
        "demo model and its sounds.")
    p.add_argument("model", type=Path, nargs="?",
                   help="MODEL.distill (default: samples/demo.distill); a folder of sounds opens the training form on it")
    p.add_argument("audio", type=Path, nargs="*", help="sounds to open: audio files, folders of them, or .codes.json files of this model")
    p.add_argument("--theme", help="theme name (themes/ or ~/.config/distill-tui/themes; default distill-dark)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.audio_files import expand_folders
    from ..inference.session import demo_paths

    for path in [args.model, *args.audio]:  # a typo is said here, in one line, not inside an editor with nothing open
        if path is not None and not path.exists():
            raise BadInputError("no such file or folder", path)
    model, audio = args.model, expand_folders(list(args.audio))
    first: dict[Path, Path] = {}
    for path in audio:  # a sound named twice (or in a folder also named) opens once
        first.setdefault(path.resolve(), path)
    audio = list(first.values())
    train_folder = None
    if model is not None and model.is_file():
        model, audio = _model_first(model, audio)
    if model is None:
        model, audio = demo_paths()  # a missing or broken model is reported inside the app, which keeps running
    elif model.is_dir() and expand_folders([model], missing_ok=True):  # sounds, and no model yet: train one
        if audio:
            raise BadInputError("is a folder of sounds, not a model: give a model first, or the folder alone to "
                                "train one on it", model)
        model, train_folder = None, model
    from ..tui.app import DistillApp

    app = DistillApp(model, audio, theme=args.theme, train_folder=train_folder)
    app.run()
    from ..tui.screens.runs import still_training

    for line in still_training(getattr(app, "run_watcher", None)):
        print(line)
    return 0


def _model_first(first: Path, audio: list[Path]) -> tuple[Path, list[Path]]:
    """`open CODES ...` opens the codes with the model that made it, found by its fingerprint
    (`persistence.model_of_codes`); `open SOUND ...` is refused, saying what to give. Anything else is taken
    as the model (the editor says what is wrong with it, and offers to open another)."""
    from ..persistence.header import other_kind
    from ..persistence.model_of_codes import model_of_codes

    try:
        kind = other_kind(first)
    except OSError:
        return first, audio
    if kind == "json":
        found = model_of_codes(first)
        if found.model is None:
            raise BadInputError(f"is a codes file: give its model first, distill-tui open MODEL {first.name} "
                                f"({found.why_not()})", first)
        print(f"opening {first.name} with {found.model}, the model that made it (found by its fingerprint)",
              file=sys.stderr)
        return found.model, [first, *audio]
    if kind == "audio":
        raise BadInputError("is a sound, not a model: give a model first (distill-tui open MODEL SOUND ...), or "
                            "a folder of sounds to train one on it", first)
    return first, audio
