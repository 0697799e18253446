"""`distill-tui eval MODEL DATA_DIR`: reconstruction quality vs the oracle ceilings, and codebook health.

Scores are full band (each file at its own rate, the decode resampled there) with the band-limited figures
(at the model's rate) beside them; see `analysis/evaluate.py` and docs/architecture.md, "Metrics".
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import printable
from . import print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """The `eval` subcommand and its flags."""
    p = subparsers.add_parser("eval", help="reconstruction quality vs the oracle ceiling, codebook health")
    p.add_argument("model", type=Path)
    p.add_argument("data_dir", type=Path, help="folder (or file) of audio to encode and decode")
    p.add_argument("--baseline", choices=["continuous"], help="also train the same network without a quantizer "
                   "for the same time and report its figures beside the model's")
    p.add_argument("--baseline-minutes", type=float, help="training time for the baseline (default: the model's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Measure the model on DATA_DIR against the oracle ceilings and print the codebook health.

    `--json` keys (docs/architecture.md, "Command-line contract"): "model" holds the model's mean scores (its
    path is "model_path"); "model", "oracle_linear" and "oracle_mel" are full band ("lsd_db", "mrstft",
    "mel_db"), each with "lsd_db_band_limited"; "ratio_to_linear_oracle" and "beats_mel_oracle" compare the
    full-band figures; "band_limited" holds the same at the model's rate; "split" says what was held out, and
    "held_out" / "trained" give the means apart when known; "per_file" rows carry "rate" and "scored_at", and
    for a file with onsets "onsets", "onset_ms" and "onset_hits"; "onsets" holds the onset error of "loops" and
    "one_shots" ("files", "median_ms", "hits") and the "rule" that sorts them.
    """
    from ..analysis.codebook import dataset_health
    from ..analysis.evaluate import evaluate, held_out_digests, model_reconstructor
    from ..data.dataset import scan
    from ..inference.codec import load_codec
    from ..persistence.model_file import read_document

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


def _print_tables(model_path: Path, result: dict[str, Any], codebook_sizes: list[int]) -> None:
    """The human-readable report: scores, the split's means, codebook health."""
    from rich.console import Console
    from rich.table import Table

    from ..analysis.health import rich_health_table

    con = Console()
    t = Table(title=f"{printable(model_path.name)} on {result['files']} files (full band: each file at its own rate)")
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
        con.print(f"held out: {h['files']} file(s), LSD {h['lsd_db']:.2f} dB; trained on: {tr['files']} file(s), "
                  f"LSD {tr['lsd_db']:.2f} dB ({result['split']['note']})")
    elif result["split"].get("holdout") == "files":
        con.print(f"held-out files: {result['split']['note']}")
    _print_onsets(con, result["onsets"])
    con.print(rich_health_table(result["health"], codebook_sizes, "codebook health (whole pass)"))


def _print_onsets(con: Any, onsets: dict[str, Any]) -> None:
    """One line per kind of file: how far the decode moves attacks, and how many it keeps."""
    for name, label in (("loops", "loops"), ("one_shots", "one-shots")):
        g = onsets[name]
        if not g["files"]:
            continue
        timing = f"attacks off by {g['median_ms']:.1f} ms (median)" if g["median_ms"] is not None else "no attack kept"
        con.print(f"timing, {label} ({g['files']} file(s)): {timing}, {100 * g['hits']:.0f} % of attacks found")
    con.print(f"[dim]({onsets['rule']})[/dim]")
