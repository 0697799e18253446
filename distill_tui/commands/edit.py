"""`distill-tui edit ...`: apply one editing operation to codes files without the TUI, writing a new codes file.

Positions are grid columns, or seconds with an "s" suffix ("1.5s"); ranges are [--from, --to).
Levels are 1-based: "2", "1,3" or "2-3". Every command writes `-o OUT` and never its inputs, so
variations can be batch-produced from a shell loop:

    for s in 1 2 3; do distill-tui edit randomize a.codes.json --levels 3 --seed $s -o a_$s.codes.json; done
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..persistence.model_of_codes import note_model
from . import add_force, check_new_output, print_json

OPS = {
    "take-levels": "replace whole levels with another grid's (structure from A, texture from B)",
    "swap": "exchange a time range (some levels) between two grids",
    "copy": "copy a time range of one grid into another",
    "blend": "morph a range toward another grid's sound: each code toward the code the other has there",
    "randomize": "replace a range with random codes (any code, codes drawn by how often training used them, or "
                 "one of the codes nearest each in what the model learned)",
    "regenerate": "resample a range with the prior",
    "continue": "extend a grid past its end with the prior",
    "repeat": "loop a range of columns N times",
    "reverse": "reverse a range in time",
}


def _range_args(q: argparse.ArgumentParser, levels: bool = True) -> None:
    q.add_argument("--from", dest="start", default=None, help="first position (or seconds, '1.5s'); default 0")
    q.add_argument("--to", dest="stop", default=None, help="end position, exclusive (or seconds); default the end")
    if levels:
        q.add_argument("--levels", default=None, help="1-based levels: '2', '1,3', '2-3'; default all")

def _mapping_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--map", nargs=2, type=Path, metavar=("MODEL_A", "MODEL_B"),
                   help="the grids come from different models: map each code to the other model's nearest one")

def _sampling_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--model", type=Path, default=None,
                   help="the model file (with a trained prior); default: the one that made CODES, found by its fingerprint")
    q.add_argument("--temperature", type=float, default=1.0, help="above 0; lower is safer, higher wilder (default 1)")
    q.add_argument("--top-k", type=int, default=None, help="sample only from the K likeliest codes")
    q.add_argument("--top-p", type=float, default=None,
                   help="sample only from the likeliest codes that together reach P, in (0, 1]")
    q.add_argument("--seed", type=int, default=None, help="same seed and settings give the same codes (on CPU)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("edit", help="edit codes files from the shell (each writes a new codes file)",
                              description=__doc__.splitlines()[0])
    ops = p.add_subparsers(dest="op", metavar="OPERATION", parser_class=type(p))
    ops.required = True

    def op(name: str, two: bool = False) -> argparse.ArgumentParser:
        q = ops.add_parser(name, help=OPS[name], description=OPS[name])
        q.add_argument("codes", type=Path, help="the grid to edit (A)")
        if two:
            q.add_argument("other", type=Path, help="the other grid (B)")
        q.add_argument("-o", "--output", type=Path, required=True, help="OUT.codes.json (never one of the inputs)")
        add_force(q, "OUT (and --other-output)")
        q.add_argument("--json", action="store_true", help="print the result as one JSON line")
        q.set_defaults(func=run)
        return q

    q = op("take-levels", two=True)
    q.add_argument("--levels", required=True, help="levels of B to take into A, 1-based ('2-3')")
    q.add_argument("--align", choices=["stretch", "crop"], default="stretch",
                   help="when lengths differ: stretch B over A's length, or take B's positions one for one")
    _mapping_args(q)

    q = op("swap", two=True)
    _range_args(q)
    q.add_argument("--at", default=None, help="where the range starts in B (default: the same position)")
    q.add_argument("--other-output", type=Path, default=None, help="also write the changed B here")
    _mapping_args(q)

    q = op("copy", two=True)
    _range_args(q)
    q.add_argument("--at", default=None, help="where to paste in B (default: the same position)")
    _mapping_args(q)

    q = op("blend", two=True)
    _range_args(q)
    q.add_argument("--amount", type=float, default=0.5, help="0 keeps A, 1 takes B (default 0.5)")
    q.add_argument("--model", type=Path, default=None,
                   help="the model file both grids were made by; default: found by CODES' fingerprint")

    q = op("randomize")
    _range_args(q)
    q.add_argument("--mode", choices=["uniform", "usage", "nearest"], default="uniform",
                   help="any code alike (default), codes as often as training used them, or the k nearest codes")
    q.add_argument("--k", type=int, default=4, help="nearest mode: choose among the k nearest codes")
    q.add_argument("--seed", type=int, default=None, help="same seed gives the same codes")
    q.add_argument("--model", type=Path, default=None,
                   help="for --mode usage and nearest; default: the model that made CODES, found by its fingerprint")

    q = op("regenerate")
    _range_args(q)
    _sampling_args(q)
    q.add_argument("--candidates", type=int, default=4,
                   help="regions sampled; the one that joins what follows best wins (default 4)")

    q = op("continue")
    _sampling_args(q)
    q.add_argument("--to", dest="stop", required=True, help="new length in positions (or seconds, '8s')")
    q.add_argument("--prompt", default=None, help="condition on the last N positions (default: all)")

    q = op("repeat")
    _range_args(q, levels=False)
    q.add_argument("--times", type=int, default=2, help="how many times the range plays in a row (default 2)")

    q = op("reverse")
    _range_args(q)


# --------------------------------------------------------------------------------------------------


def parse_position(text: str | None, grid: Any, default: int) -> int:
    """'12' -> 12; '1.5s' -> the position at 1.5 seconds."""
    if text is None:
        return default
    t = str(text).strip()
    try:
        position = int(round(float(t[:-1]) / grid.seconds_per_position)) if t.endswith("s") else int(t)
    except (ValueError, OverflowError):  # "nans", "infs"
        raise BadInputError(f"{text!r} is not a position or a time in seconds ('12' or '1.5s')") from None
    if position < 0:  # was taken, and copied a range that started before the grid
        raise BadInputError(f"{text!r}: positions and times count from 0, the grid's start")
    return position


def _said(text: str | None, position: int) -> str:
    """A --from or --to as typed, with the position it came to when it was a time: "2s (position 43)"."""
    t = str(text).strip()
    return f"{t} (position {position})" if t.endswith("s") else t


def parse_levels(text: str | None, n_levels: int) -> list[int]:
    """'1,3' or '2-3' (1-based) -> sorted 0-based levels; None -> all."""
    if text is None:
        return list(range(n_levels))
    out: set[int] = set()
    try:
        for part in str(text).split(","):
            a, _, b = part.strip().partition("-")
            lo, hi = int(a), int(b or a)
            out.update(range(lo, hi + 1))
    except ValueError:
        raise BadInputError(f"--levels {text!r}: use 1-based levels like '2', '1,3' or '2-3'") from None
    bad = sorted(q for q in out if not 1 <= q <= n_levels)
    if bad or not out:
        raise BadInputError(f"--levels {text!r}: this grid has levels 1..{n_levels}")
    return sorted(q - 1 for q in out)


def _contiguous(levels: list[int], what: str) -> tuple[int, int]:
    if levels != list(range(levels[0], levels[-1] + 1)):
        raise BadInputError(f"{what} needs a contiguous range of levels (like '2-3')")
    return levels[0], levels[-1] + 1


def _check_output(args: argparse.Namespace) -> None:
    inputs = [args.codes] + ([args.other] if getattr(args, "other", None) else [])
    outputs = [args.output] + ([args.other_output] if getattr(args, "other_output", None) else [])
    for out in outputs:
        for inp in inputs:
            if out.resolve() == inp.resolve():
                raise BadInputError("the output would overwrite an input; choose another -o", out)
    check_new_output(args.output, args.force)
    if getattr(args, "other_output", None):
        if args.other_output.resolve() == args.output.resolve():
            raise BadInputError("--other-output is the same file as -o: B would replace the edited A", args.other_output)
        check_new_output(args.other_output, args.force, "--other-output")


def _model(args: argparse.Namespace) -> Path:
    """--model, else the model that made CODES (`persistence.model_of_codes`: the file it names, or one beside it)."""
    if args.model is None:
        from ..persistence.model_of_codes import model_of_codes

        found = model_of_codes(args.codes)
        if found.model is None:
            raise BadInputError(f"{args.op} needs --model MODEL ({found.why_not()})", args.codes)
        args.model = found.model
    return args.model


def _codec(path: Path, grid: Any, grid_path: Path) -> Any:
    from ..inference.codec import load_codec

    codec = load_codec(path)
    grid.check_model(codec.fingerprint, codec.codebook_sizes, grid_path)
    return codec


def _embedding_map(models: list[Path] | None, a: Any, b: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """(map A->B, map B->A) when --map is given, else (None, None)."""
    if not models:
        return None, None
    from ..model.latent import EmbeddingMap

    ca, cb = _codec(models[0], a, args.codes), _codec(models[1], b, args.other)
    return EmbeddingMap.between(ca, cb), EmbeddingMap.between(cb, ca)


def _settings(args: argparse.Namespace) -> tuple[Any, Any]:
    try:
        from ..inference.generate import Prior, SamplingSettings
    except ImportError as exc:
        raise BadInputError(f"sampling with the prior is not available in this build ({exc})") from exc
    prior = Prior.from_model_file(args.model)
    return prior, SamplingSettings(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)


def _output_name(path: Path) -> str:
    name = path.name
    for suffix in (".codes.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def run(args: argparse.Namespace) -> int:
    """Apply one edit to a codes file (and B for two-grid edits) and write the result; inputs are never overwritten."""
    from ..codes.grid import CodeGrid

    _check_output(args)
    a = CodeGrid.load(args.codes)
    b = CodeGrid.load(args.other) if getattr(args, "other", None) else None
    edit, target = _build_edit(args, a, b)
    result = edit.do(target)
    _write_outputs(args, target, a, b)
    ch = result.changed
    summary = {"output": str(args.output), "op": args.op, "levels": target.levels, "positions": target.positions,
               "seconds": round(target.seconds, 3), "changed_levels": [ch.level_start + 1, ch.level_stop],
               "changed_positions": [ch.pos_start, ch.pos_stop]}
    if args.op == "swap" and args.other_output is not None:
        summary["other_output"] = str(args.other_output)
    if args.json:
        print_json(summary)
    else:
        print(f"{args.output}: {args.op}, {target.levels} levels x {target.positions} positions ({target.seconds:.2f} s)")
    return 0


def _selection(args: argparse.Namespace, grid: Any) -> Any:
    """--from/--to and --levels as a `Selection` of `grid`."""
    from ..codes.selection import Selection

    start, stop = getattr(args, "start", None), getattr(args, "stop", None)
    p0 = parse_position(start, grid, 0)
    p1 = parse_position(stop, grid, grid.positions)
    end = f"{grid.positions} positions ({grid.seconds:.2f} s)"
    if p0 >= grid.positions:
        raise BadInputError(f"--from {_said(start, p0)} is past the end of the grid: it has {end}")
    if p1 <= p0:
        after = "the grid's start" if start is None else f"--from {_said(start, p0)}"
        raise BadInputError(f"--to {_said(stop, p1)} must come after {after}: the range is empty")
    l0, l1 = _contiguous(parse_levels(getattr(args, "levels", None), grid.levels), args.op)
    return Selection(l0, l1, p0, p1)


def _build_edit(args: argparse.Namespace, a: Any, b: Any) -> tuple[Any, Any]:
    """The edit the operation asks for, and the grid it applies to (A, or B for `copy`)."""
    from ..codes import edits as E
    from ..codes.clipboard import Clipboard
    from ..codes.grid import LONGEST_DECODE_S

    op = args.op
    if op in {"take-levels", "swap", "copy", "blend"}:
        assert b is not None  # argparse requires OTHER for these
    if op == "take-levels":
        to_a = _embedding_map(args.map, a, b, args)[1] if args.map else None
        return E.TakeLevels(source=b, levels=parse_levels(args.levels, a.levels), align=args.align, mapping=to_a), a
    if op == "swap":
        ab, ba = _embedding_map(args.map, a, b, args)
        at = None if args.at is None else parse_position(args.at, b, 0)
        return E.SwapRegion(selection=_selection(args, a), other=b, other_position=at, to_other=ab, from_other=ba), a
    if op == "copy":
        sel = _selection(args, a)
        clip = Clipboard.copy_from(a, sel)
        if args.map:
            clip = clip.mapped(_embedding_map(args.map, a, b, args)[0])
        at = sel.pos_start if args.at is None else parse_position(args.at, b, 0)
        return E.Paste(clip=clip, position=at), b
    if op == "blend":
        codec = _codec(_model(args), a, args.codes)
        return E.Blend(selection=_selection(args, a), other=b, amount=args.amount, quantizer=codec.model.quantizer), a
    if op == "randomize":
        usage, neighbours = _randomize_tables(args, a)
        if args.seed is not None:  # a negative one reached numpy: "ValueError: expected non-negative integer", exit 1
            from ..inference.sampling import SamplingSettings  # no torch

            SamplingSettings(seed=args.seed).validate()
        return E.Randomize(selection=_selection(args, a), mode=args.mode, seed=args.seed, usage=usage,
                           neighbours=neighbours), a
    if op in {"regenerate", "continue"}:
        _codec(_model(args), a, args.codes)
        if op == "continue":
            a.check_growth(parse_position(args.stop, a, a.positions))
        prior, settings = _settings(args)
        if op == "regenerate":
            return E.Regenerate(selection=_selection(args, a), prior=prior, settings=settings, candidates=args.candidates), a
        total = parse_position(args.stop, a, a.positions)
        prompt = None if args.prompt is None else parse_position(args.prompt, a, a.positions)
        return E.Continue(total_positions=total, prior=prior, settings=settings, prompt_positions=prompt), a
    if op == "repeat":
        sel = _selection(args, a)
        most = a.most_repeats((sel.pos_stop or a.positions) - sel.pos_start)  # said up front: 1e20 times read "541798941798941824.0 minutes long"
        if args.times > most:
            raise BadInputError(f"--times {args.times} is more than fits: at most {most} in the "
                                f"{LONGEST_DECODE_S / 60:g} minutes Distill decodes")
        return E.RepeatColumns(start=sel.pos_start, stop=sel.pos_stop or a.positions, times=args.times), a
    if op == "reverse":
        return E.Reverse(selection=_selection(args, a)), a
    raise BadInputError(f"unknown operation {op}")  # pragma: no cover - argparse restricts the choices


def _randomize_tables(args: argparse.Namespace, a: Any) -> tuple[Any, Any]:
    """(usage counts, nearest neighbours) for `randomize --mode usage|nearest`; both None for uniform."""
    if args.mode == "uniform":
        return None, None
    codec = _codec(_model(args), a, args.codes)
    if args.mode == "usage":
        from ..persistence.document import health_of

        health = health_of(codec.doc)
        counts = None if health is None else health.counts
        if not counts:
            raise BadInputError("the model file has no usage counts; use --mode uniform or nearest", args.model)
        return counts, None
    from ..model.latent import neighbours_by_level

    if args.k < 1:  # 0 was taken
        raise BadInputError(f"--k must be at least 1, got {args.k}")
    return None, neighbours_by_level(codec.model.quantizer, a.levels, args.k)


def _write_outputs(args: argparse.Namespace, target: Any, a: Any, b: Any) -> None:
    """Write the edited grid to -o (and B to --other-output after a swap), named and with what it came from."""
    target.name = _output_name(args.output)
    target.source = {**target.source, "edited_from": str(getattr(args, "other" if target is b else "codes")), "edit": args.op}
    note_model(target.source, getattr(args, "model", None))  # the model this edit used, when it used one
    target.save(args.output)
    if args.op == "swap" and args.other_output is not None and b is not None:
        b.name = _output_name(args.other_output)
        b.source = {**b.source, "edited_from": str(args.other), "edit": args.op}
        b.save(args.other_output)
