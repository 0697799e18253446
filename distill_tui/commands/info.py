"""`distill-tui info MODEL`: what a model file holds (configs, dataset, codebook health, prior)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import BadInputError
from . import print_json


def model_info(path: Path) -> dict:
    """The `info --json` object of a model file (built by analysis/model_info.py; imported late: torch is slow)."""
    from ..analysis.model_info import model_info as build

    return build(path)


def register(subparsers: argparse._SubParsersAction) -> None:
    """The `info` subcommand and its flags."""
    p = subparsers.add_parser("info", help="describe a model file")
    p.add_argument("model", type=Path, help="MODEL.distill")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run)


def _num(v: float | None, spec: str = ".2f") -> str:
    return "?" if v is None else format(v, spec)


def _refuse_codes_naming_their_model(path: Path) -> None:
    """`info take.codes.json`: a codes file whose model is found is refused pointing at that model (`info`
    describes models); any other file goes on to the model reader, which says what it is."""
    from ..persistence.header import other_kind
    from ..persistence.model_of_codes import model_of_codes

    try:
        if not path.is_file() or other_kind(path) != "json":
            return
    except OSError:
        return
    found = model_of_codes(path)
    if found.model is not None:
        raise BadInputError(f"is a codes file, made by {found.model}: `distill-tui info {found.model}` describes "
                            "that model", path)


def run(args: argparse.Namespace) -> int:
    """Print what the model file holds (or, with --json, the `info --json` object)."""
    from ..analysis.model_info import closest_words, grid_words, info_dict
    from ..persistence.model_file import load_model_file

    _refuse_codes_naming_their_model(args.model)
    doc = load_model_file(args.model).document
    if args.json:
        print_json(info_dict(doc))
        return 0
    from rich.console import Console

    from ..analysis.health import rich_health_table
    from ..words import duration

    con = Console()
    ds, tr, m = doc.dataset, doc.training, doc.model
    con.print(f"[bold]{args.model}[/]  format {doc.format} v{doc.version}  fingerprint {doc.fingerprint}")
    con.print(grid_words(info_dict(doc)))
    con.print(f"trained on {ds.files} files ({duration(ds.minutes * 60)} of audio) from {ds.root}; "
              f"{_num(tr.steps, 'd')} steps in {duration(tr.seconds or 0)} on {tr.device or '?'}"
              f"{' in bfloat16' if tr.train is not None and tr.train.precision == 'bfloat16' else ''}; "
              f"{closest_words(tr.best_val_db)}")
    if doc.health is not None and doc.health.utilization:
        con.print(rich_health_table(doc.health, m.codebook_sizes))
    for w in tr.warnings:
        con.print(f"[yellow]warning:[/] {w}")
    p = doc.prior
    if p is None:
        con.print("prior: none (run `distill-tui train-prior`)")
        return 0
    import textwrap

    def indented(text: str) -> None:  # wrapped to the terminal, indented by 2 more than its own indent
        pad = " " * (2 + len(text) - len(text.lstrip()))
        con.print(textwrap.fill(text.lstrip(), width=max(con.width, 40), initial_indent=pad, subsequent_indent=pad + "  "),
                  markup=False, highlight=False, soft_wrap=True)

    # the verdict in words first, the figures behind it after
    con.print(f"prior: {p.verdict or '?'}", markup=False)
    indented(f"{p.architecture}; perplexity {_num(p.val_perplexity)} against the bigram's "
             f"{_num(p.bigram_val_perplexity)} (lower predicts better); 8-gram copy rate {_num(p.copy_rate_8gram, '.0%')}")
    for line in p.folds_lines() or []:
        indented(line)
    return 0
