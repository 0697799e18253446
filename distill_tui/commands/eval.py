"""`distill-tui eval MODEL DATA_DIR`: reconstruction quality vs the oracle ceilings, and codebook health.

Scores are full band (each file at its own rate, the decode resampled there) with the band-limited figures
(at the model's rate) beside them; see `analysis/evaluate.py` and docs/architecture.md, "Metrics".
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import printable
from ..words import counted
from . import print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """The `eval` subcommand and its flags."""
    p = subparsers.add_parser("eval", help="how close the decoded sounds are to the originals (and to the best a decode can do); codebook health")
    p.add_argument("model", type=Path, help="MODEL.distill")
    p.add_argument("data_dir", type=Path, help="folder (or file) of audio to encode and decode")
    p.add_argument("--baseline", choices=["continuous"], help="also train the same network without a quantizer "
                   "for the same time and report its figures beside the model's")
    p.add_argument("--baseline-minutes", type=float, help="training time for the baseline (default: the model's)")
    p.add_argument("--generation", type=int, metavar="N", help="also generate N sounds with the model's prior and N "
                   "with a bigram of DATA_DIR's codes and score both: plausibility, copy rate, loop seams")
    p.add_argument("--generation-seconds", type=float, default=4.0, help="length of each generated sound (default 4)")
    p.add_argument("--generation-seed", type=int, default=0, help="seed of the generated sounds (default 0)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Measure the model on DATA_DIR against the oracle ceilings and print the codebook health.

    `--json` keys (docs/architecture.md, "Command-line contract"): "model" holds the model's mean scores (its
    path is "model_path"); "model", "oracle_linear" and "oracle_mel" are full band ("lsd_db", "mrstft",
    "mel_db"), each with "lsd_db_band_limited"; "ratio_to_linear_oracle" and "beats_mel_oracle" compare the
    full-band figures; "band_limited" holds the same at the model's rate; "split" says what was held out, and
    "held_out" / "trained" give the means apart when known; "per_file" rows carry "rate" and "scored_at", and
    for a file with onsets "onsets", "onset_ms", "onset_hits" and "onset_sharpness"; "onsets" holds the onset error
    of "loops", "one_shots" and "swells" ("files", "median_ms", "hits") and the "rule" that sorts them.
    With --generation N, "generation" holds `analysis.generated.GenerationReport.as_dict()`.
    """
    from ..analysis.codebook import dataset_health
    from ..analysis.evaluate import evaluate, held_out_digests, model_reconstructor
    from ..data.dataset import scan
    from ..inference.codec import load_codec
    from ..persistence.model_file import read_document

    if args.generation is not None:
        _check_generation(args)
    codec = load_codec(args.model)
    spec, model = codec.spec, codec.model
    doc = read_document(args.model)
    scanned = scan(args.data_dir, spec)
    digests, split_info = held_out_digests(doc, scanned.files)
    report = evaluate(scanned.files, model_reconstructor(model, spec), spec, held_out=digests)
    health = dataset_health(model, [(f.samples, f.ref_db) for f in scanned.files], spec).as_dict()
    summary = report.summary()
    result: dict[str, Any] = {"model_path": printable(args.model), "data": printable(args.data_dir),
                              "files": len(report.files), "skipped": scanned.skipped, "sample_rate": spec.sample_rate,
                              **summary, "split": split_info, "health": health, "per_file": report.per_file()}
    result["onsets"] = report.onset_summary()
    if args.baseline == "continuous":
        result.update(_baseline(args, doc, spec, scanned.files, summary["model"]["lsd_db"]))
    if args.generation is not None:
        result["generation"] = _generation(args, codec, [f.samples for f in scanned.files])
    if args.json:
        print_json(result)
        return 0
    _print_tables(args.model, result, codec.codebook_sizes)
    return 0


def _baseline(args: argparse.Namespace, doc: Any, spec: Any, files: list, model_lsd_db: float) -> dict[str, Any]:
    """Train the same network without a quantizer for the model's time and score it (full band)."""
    import dataclasses
    import tempfile

    from ..analysis.evaluate import evaluate, model_reconstructor
    from ..config import TrainConfig, to_dict
    from ..inference.codec import build_vqvae
    from ..persistence.model_file import load_model_file
    from ..train.vqvae_loop import TrainRequest, train_vqvae

    seconds = doc.training.seconds if doc.training.seconds is not None else 60.0
    minutes = args.baseline_minutes or max(seconds / 60, 0.05)
    tc = dataclasses.replace(doc.training.train or TrainConfig(), minutes=minutes, steps=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        req = TrainRequest(data_dir=args.data_dir, output=Path(tmp) / "baseline.distill", run_dir=Path(tmp) / "run",
                           spec=spec, train=tc, model_overrides={**to_dict(doc.model), "quantize": False})
        res = train_vqvae(req)
        base_model, _ = build_vqvae(load_model_file(res.output))
    base = evaluate(files, model_reconstructor(base_model, spec, quantize=False), spec, with_oracle=False)
    out = {"minutes": minutes, **{m: round(base.mean("model", m), 4) for m in ("lsd_db", "mrstft", "mel_db")},
           "lsd_db_band_limited": round(base.mean("model", "lsd_db", band_limited=True), 4)}
    return {"baseline_continuous": out, "quantization_cost_db": round(model_lsd_db - out["lsd_db"], 4)}


def _check_generation(args: argparse.Namespace) -> None:
    """Refuse bad --generation flags before any slow work."""
    from ..errors import BadInputError

    if args.generation < 1:
        raise BadInputError(f"--generation must be at least 1, got {args.generation}")
    if not 0 < args.generation_seconds <= 60:
        raise BadInputError(f"--generation-seconds must be in (0, 60], got {args.generation_seconds}")


def _generation(args: argparse.Namespace, codec: Any, corpus: list) -> dict[str, Any]:
    """`--generation N`: N sounds from the prior and N from the corpus' bigram, scored (analysis/generated.py)."""
    from ..analysis.generated import generation_report
    from ..inference.generate import Prior, positions_for_seconds
    from ..persistence.model_file import load_model_file

    prior = Prior.from_loaded(load_model_file(args.model), args.model)
    spec = codec.spec
    positions = max(2, positions_for_seconds(args.generation_seconds, spec.sample_rate, spec.hop_length, codec.cfg.stride))
    return generation_report(codec, prior, corpus, args.generation, positions, seed=args.generation_seed).as_dict()


def _print_generation(con: Any, g: dict[str, Any]) -> None:
    """The generated sounds' table: closeness to the corpus, copying, loop seams."""
    from rich.table import Table

    t = Table(title=f"{g['sounds']} generated sounds of {g['seconds']:.1f} s each (seed {g['seed']})")
    for c in ("", "distance to nearest real 0.5 s, dB", "8-position copy rate", "8-code copy rate", "nearest grid"):
        t.add_column(c, justify="right")
    own = g["bigram_source"].startswith("the prior's own")
    for key, label in (("network", f"prior ({g['architecture'] or 'network'})"),
                       ("bigram", "bigram (the prior's own)" if own else "bigram of these sounds")):
        r = g[key]
        t.add_row(label, f"{r['plausibility_db']:.2f}", f"{r['copy_rate_columns']:.0%}", f"{r['copy_rate_tokens']:.0%}",
                  f"{r['nearest_hamming']:.0%} differ")
    con.print(t)
    lp, pc, pw = g["loops"], g["loops_prior_choice"], g["plain_wraps"]
    con.print(f"loop seam / the loop's median step (median of {lp['loops']}; 1 or less is seamless): "
              f"{lp['median_ratio']:.2f} for the smoothest of {g['loop_candidates']} ({lp['seamless_share']:.0%} seamless), "
              f"{pc['median_ratio']:.2f} for the prior's likeliest, {pw['median_ratio']:.2f} for ordinary sounds played round")


def _print_tables(model_path: Path, result: dict[str, Any], codebook_sizes: list[int]) -> None:
    """The human-readable report: scores, the split's means, codebook health."""
    from rich.console import Console
    from rich.table import Table

    from ..analysis.health import rich_health_table

    con = Console()
    t = Table(title=f"{printable(model_path.name)} on {result['files']} file{'' if result['files'] == 1 else 's'} (full band: each file at its own rate)")
    t.add_column("")
    for m in ("LSD dB", f"LSD dB at {result['sample_rate']} Hz", "MR-STFT", "mel dB"):
        t.add_column(m, justify="right")
    rows = [("model + Griffin-Lim", result["model"]), ("oracle, linear magnitude", result["oracle_linear"]),
            ("oracle, 128-bin mel (NNLS)", result["oracle_mel"])]
    if "baseline_continuous" in result:
        b = result["baseline_continuous"]
        rows.append((f"continuous baseline ({b['minutes']:.1f} min)", b))
    for label, s in rows:
        t.add_row(label, f"{s['lsd_db']:.2f}", f"{s['lsd_db_band_limited']:.2f}", f"{s['mrstft']:.3f}", f"{s['mel_db']:.2f}")
    con.print(t)
    con.print(f"model / linear oracle: {result['ratio_to_linear_oracle']:.2f}x; "
              f"{'beats' if result['beats_mel_oracle'] else 'does not beat'} the mel oracle (full band)")
    rates = sorted({f["rate"] for f in result["per_file"]})
    if any(r > 48000 for r in rates):
        con.print("files above 48 kHz were scored at 48 kHz")
    if "held_out" in result:
        h, tr = result["held_out"], result["trained"]
        con.print(f"held out: {counted(h['files'], 'file')}, LSD {h['lsd_db']:.2f} dB; trained on: {counted(tr['files'], 'file')}, "
                  f"LSD {tr['lsd_db']:.2f} dB ({result['split']['note']})")
    elif result["split"].get("holdout") == "files":
        con.print(f"held-out files: {result['split']['note']}")
    _print_onsets(con, result["onsets"])
    con.print(rich_health_table(result["health"], codebook_sizes, "codebook health (whole pass)"))
    if "generation" in result:
        _print_generation(con, result["generation"])


def _print_onsets(con: Any, onsets: dict[str, Any]) -> None:
    """One line per kind of file: how far the decode moves attacks, and how many it keeps."""
    for name, label in (("loops", "loops"), ("one_shots", "one-shots"), ("swells", "swells of pads")):
        g = onsets.get(name)
        if not g or not g["files"]:
            continue
        what = "onsets" if name == "swells" else "attacks"
        timing = f"{what} off by {g['median_ms']:.1f} ms (median)" if g["median_ms"] is not None else f"no {what[:-1]} kept"
        con.print(f"timing, {label} ({counted(g['files'], 'file')}): {timing}, {100 * g['hits']:.0f} % of {what} found")
    con.print(f"[dim]({onsets['rule']})[/dim]")
