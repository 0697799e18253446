"""`distill-tui eval MODEL DATA_DIR`: reconstruction quality vs the oracle ceilings, and codebook health."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    """Measure the model on DATA_DIR against the oracle ceilings and print the codebook health."""
    import tempfile

    from rich.console import Console
    from rich.table import Table

    from ..analysis.codebook import dataset_health
    from ..analysis.evaluate import evaluate, model_reconstructor
    from ..analysis.health import rich_health_table
    from ..data.dataset import scan
    from ..inference.codec import load_codec

    codec = load_codec(args.model)
    spec, model = codec.spec, codec.model
    scanned = scan(args.data_dir, spec)
    report = evaluate(scanned.files, model_reconstructor(model, spec), spec)
    health = dataset_health(model, [(f.samples, f.ref_db) for f in scanned.files], spec).as_dict()
    summary = report.summary()
    result = {"model": str(args.model), "data": str(args.data_dir), "files": len(report.files),
              "skipped": scanned.skipped, **summary, "health": health,
              "per_file": [{"path": f.path, "lsd_db": round(f.model.lsd_db, 3), "oracle_lsd_db": round(f.oracle_linear.lsd_db, 3),
                            "mel_oracle_lsd_db": round(f.oracle_mel.lsd_db, 3)} for f in report.files]}
    if args.baseline == "continuous":
        import dataclasses

        from ..config import TrainConfig, to_dict
        from ..persistence.model_file import read_document
        from ..train.vqvae_loop import TrainRequest, train_vqvae

        doc = read_document(args.model)
        seconds = doc.training.seconds if doc.training.seconds is not None else 60.0
        minutes = args.baseline_minutes or max(seconds / 60, 0.05)
        tc = dataclasses.replace(doc.training.train or TrainConfig(), minutes=minutes, steps=10**9)
        with tempfile.TemporaryDirectory() as tmp:
            req = TrainRequest(data_dir=args.data_dir, output=Path(tmp) / "baseline.distill", run_dir=Path(tmp) / "run",
                               spec=spec, train=tc, model_overrides={**to_dict(doc.model), "quantize": False})
            res = train_vqvae(req)
            from ..inference.codec import build_vqvae
            from ..persistence.model_file import load_model_file

            base_model, _ = build_vqvae(load_model_file(res.output))
        base = evaluate(scanned.files, model_reconstructor(base_model, spec, quantize=False), spec, with_oracle=False)
        result["baseline_continuous"] = {"minutes": minutes, "lsd_db": round(base.mean("model", "lsd_db"), 4),
                                         "mrstft": round(base.mean("model", "mrstft"), 4), "mel_db": round(base.mean("model", "mel_db"), 4)}
        result["quantization_cost_db"] = round(summary["model"]["lsd_db"] - result["baseline_continuous"]["lsd_db"], 4)
    if args.json:
        print_json(result)
        return 0
    con = Console()
    t = Table(title=f"{args.model.name} on {len(report.files)} files")
    t.add_column("")
    for m in ("LSD dB", "MR-STFT", "mel dB"):
        t.add_column(m, justify="right")
    rows = [("model + Griffin-Lim", "model"), ("oracle, linear magnitude", "oracle_linear"), ("oracle, 128-bin mel (NNLS)", "oracle_mel")]
    for label, key in rows:
        s = summary[key]
        t.add_row(label, f"{s['lsd_db']:.2f}", f"{s['mrstft']:.3f}", f"{s['mel_db']:.2f}")
    if "baseline_continuous" in result:
        b = result["baseline_continuous"]
        t.add_row(f"continuous baseline ({b['minutes']:.1f} min)", f"{b['lsd_db']:.2f}", f"{b['mrstft']:.3f}", f"{b['mel_db']:.2f}")
    con.print(t)
    con.print(f"model / linear oracle: {summary['ratio_to_linear_oracle']:.2f}x; "
              f"{'beats' if summary['beats_mel_oracle'] else 'does not beat'} the mel oracle")
    con.print(rich_health_table(health, codec.codebook_sizes, "codebook health (whole pass)"))
    return 0
