"""The `distill-tui` command: argparse subcommands; no subcommand opens the TUI.

Each subcommand lives in `distill_tui/commands/<name>.py` and exposes `register(subparsers)`,
which adds its parser and sets `func` (called with the parsed args, returning an exit status).
Errors: one line on stderr beginning `error:`; exit 2 for bad input or usage, 1 otherwise;
a traceback only with `--debug` (docs/architecture.md, "Command-line contract"). `main(argv)` returns
the exit status instead of exiting, so tests and scripts can call it in-process.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from .errors import DistillError
from .threads import openmp_waiting

DESCRIPTION = ("Distill: train a small RVQ-VAE on a folder of your sounds, then see, edit and regenerate their "
               "codes. With no command, opens the editor on the bundled demo.")
COMMAND_MODULES = ["train", "train_prior", "codec", "eval", "info", "generate", "vary", "edit", "listen", "play", "open"]
TRAINING_COMMANDS = {"train"}  # their OpenMP threads spin briefly before sleeping (`threads.WAITING`)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for any bad input
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="distill-tui", description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith(f"commands.{name}"):
                continue  # that command is not built yet
            raise
        module.register(subparsers)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """Parsed arguments, or the exit status argparse chose (0 after --help, 2 after a usage error)."""
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None) and args.command is None and "open" in _commands(parser):
            args = parser.parse_args([*argv, "open"])  # only top-level options (--debug) were given
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run `distill-tui` with `argv` (default: the process's arguments) and return its exit status."""
    parser = build_parser()
    args = _parse(parser, sys.argv[1:] if argv is None else list(argv))
    if isinstance(args, int):
        return args
    debug = getattr(args, "debug", False)
    if args.command in TRAINING_COMMANDS:
        openmp_waiting("training")  # torch is not loaded yet: parsing imports no torch
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DistillError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)\n")
        return 1


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:  # noqa: SLF001 - argparse has no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


if __name__ == "__main__":
    raise SystemExit(main())
