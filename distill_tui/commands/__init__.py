"""One module per `distill-tui` subcommand; each exposes `register(subparsers)`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..config import LONGEST_TRAINING_MIN
from ..errors import BadInputError, DistillError

MOST_SOUNDS = 100  # -n of `vary` and `generate --like`: drawn side by side (vary judges 3 candidates a sound)


def check_count(n: int) -> None:
    """Refuse an -n outside 1..MOST_SOUNDS (BadInputError); 100,000 was taken and drawn until killed."""
    if not 1 <= n <= MOST_SOUNDS:
        raise BadInputError(f"-n must be from 1 to {MOST_SOUNDS}, got {n}")


# The prior's shape from the command line: far above the defaults (context 16, 2 layers of 64), below what this
# machine cannot hold (--context 100000 and --d-model 100000 asked torch for 90 and 120 GB).
PRIOR_SHAPE_MOST = {"context": 512, "layers": 16, "d_model": 1024}


def check_prior_shape(args: Any) -> None:
    """Refuse a --dropout, --context, --layers or --d-model the prior cannot train with (BadInputError)."""
    if args.dropout is not None and not 0 <= args.dropout < 1:
        raise BadInputError("--dropout must be in [0, 1)")
    for name, most in PRIOR_SHAPE_MOST.items():
        value = getattr(args, name)
        if value is not None and not 1 <= value <= most:
            raise BadInputError(f"--{name.replace('_', '-')} must be from 1 to {most}, got {value}")


def apply_budget(train_config: Any, steps: int | None, minutes: float | None) -> None:
    """`--steps N` or `--minutes M` onto a training config with `steps` and `minutes` fields."""
    if steps is not None:
        if steps < 1:
            raise BadInputError("--steps must be at least 1")
        train_config.steps, train_config.minutes = steps, None
    if minutes is not None:
        if not minutes > 0:  # NaN too: it trained without end
            raise BadInputError("--minutes must be positive")
        if not minutes <= LONGEST_TRAINING_MIN:  # inf too
            raise BadInputError(f"--minutes {minutes:g} is more than a week ({LONGEST_TRAINING_MIN} minutes); "
                                "stop a run whenever you like and resume it with the same command")
        train_config.minutes, train_config.steps = minutes, 10**9


def add_force(parser: Any, what: str = "the output") -> None:
    """`--force`: the one way to let a command replace a file that is already there."""
    parser.add_argument("--force", action="store_true", help=f"replace {what} if it is already there")


def check_new_output(path: str | Path, force: bool, flag: str = "-o") -> None:
    """Refuse to replace a file that is already there unless `force` (BadInputError naming it).

    `decode -o kick.wav` wrote over the musician's own kick, and `train -o MODEL` over a model and its prior.
    """
    path = Path(path)
    if path.is_dir():
        raise BadInputError(f"{flag} is a folder; give a file name", path)
    if path.exists() and not path.is_file():  # replacing /dev/null with a file is never meant, --force or not
        raise BadInputError(f"is not a regular file (a device or pipe); give a file name to {flag}", path)
    if path.exists() and not force:
        raise BadInputError(f"already there; choose another {flag} or add --force to replace it", path)


def check_prior_replaced(model: Path, run_dir: Path, which: str, force: bool) -> None:
    """Refuse a fresh `train-prior` run that would replace the prior already in `model` (`which`: "prior" or
    "masked_prior") unless `force`; a run folder that has started (`run.json`) resumes as it was asked.

    `train-prior MODEL --run NEW` replaced a trained prior with a new one when it ended, without a word."""
    from ..persistence.header import read_header_document

    if (run_dir / "run.json").exists() or force or not model.is_file():
        return  # a missing or unreadable model is refused, with its own reason, where it is opened
    try:
        has = getattr(read_header_document(model), which) is not None
    except DistillError:
        return
    if has:
        kind = "a masked prior" if which == "masked_prior" else "a prior"
        raise BadInputError(f"has {kind} already; add --force to train a new one that replaces it when it ends", model)


def print_json(obj: Any) -> None:
    """The machine-readable result: one JSON object, the last line on stdout."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()
