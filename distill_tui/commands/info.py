"""`distill-tui info MODEL`: what a model file holds (configs, dataset, codebook health, prior)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import print_json


def model_info(path: Path) -> dict:
    """The `info --json` object (keys fixed by design.md's command-line contract)."""
    from ..persistence.model_file import load_model_file

    doc = load_model_file(path).doc
    health = doc.get("health") or {}
    model = doc["model"]
    prior = doc.get("prior")
    return {
        "format": doc["format"],
        "version": doc["version"],
        "fingerprint": doc["fingerprint"],
        "sample_rate": doc["spectrogram"]["sample_rate"],
        "levels": model["levels"],
        "codebook_sizes": model["codebook_sizes"],
        "stride": model["stride"],
        "quantized": model.get("quantize", True),
        "has_prior": prior is not None,
        "dataset": {k: v for k, v in (doc.get("dataset") or {}).items() if k != "notes"},
        "health": {k: health.get(k, []) for k in ("utilization", "perplexity", "dead_codes", "level_gain_db")},
        "training": {k: v for k, v in (doc.get("training") or {}).items() if k not in {"train"}},
        "spectrogram": doc["spectrogram"],
        "model": model,
        "prior": None if prior is None else {k: prior.get(k) for k in (
            "architecture", "val_perplexity", "bigram_val_perplexity", "copy_rate_8gram", "verdict")},
    }


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("info", help="describe a model file")
    p.add_argument("model", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = model_info(args.model)
    if args.json:
        print_json(info)
        return 0
    from rich.console import Console
    from rich.table import Table

    con = Console()
    ds, tr = info["dataset"], info["training"]
    con.print(f"[bold]{args.model}[/]  format {info['format']} v{info['version']}  fingerprint {info['fingerprint']}")
    con.print(f"{info['levels']} levels x {info['codebook_sizes']} codes, stride {info['stride']}, {info['sample_rate']} Hz")
    con.print(f"trained on {ds.get('files')} files ({ds.get('minutes', 0):.2f} min) from {ds.get('root')}; "
              f"{tr.get('steps')} steps in {tr.get('seconds', 0) / 60:.1f} min on {tr.get('device')}; "
              f"validation {tr.get('best_val_db')} dB")
    h = info["health"]
    if h.get("utilization"):
        t = Table(title="codebook health")
        for col in ("level", "utilization", "perplexity", "dead codes", "adds dB"):
            t.add_column(col, justify="right")
        for q in range(len(h["utilization"])):
            t.add_row(str(q + 1), f"{h['utilization'][q]:.0%}", f"{h['perplexity'][q]:.1f}", str(h["dead_codes"][q]),
                      f"{h['level_gain_db'][q]:.2f}" if q < len(h["level_gain_db"]) else "")
        con.print(t)
    for w in tr.get("warnings") or []:
        con.print(f"[yellow]warning:[/] {w}")
    p = info["prior"]
    con.print("prior: none (run `distill-tui train-prior`)" if p is None else
              f"prior: {p['architecture']}, validation perplexity {p['val_perplexity']:.2f} "
              f"(bigram {p['bigram_val_perplexity']:.2f}), 8-gram copy rate {p['copy_rate_8gram']:.0%}: {p['verdict']}")
    return 0
