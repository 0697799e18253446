"""Generalization: how much worse sounds the model never trained on decode, with and without augmentation.

    python bench/bench_generalize.py DATA_DIR --out bench/out/gen --seeds 2 3 --minutes 5 \
        --variant base= --variant aug=augment_gain_db=6,augment_semitones=0.5
    python bench/bench_generalize.py DATA_DIR --out bench/out/gen --table-only   # re-read the eval JSON

Each variant trains with `--holdout files` (about 10 % of the files held out whole, a different pair per
seed) for `--minutes` of CPU time, then every file is scored as `eval --json` scores it (full band at its
own rate, the held-out ones marked; the oracle ceilings left out). The table gives, per variant and seed, the training files' and the held-out files' mean
LSD, their ratio (the issue's target: <= 1.5), and both means per kind of sound (the file's folder).
Runs that exist already are not trained again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from statistics import mean, median


def train_and_eval(data: Path, out: Path, name: str, fields: str, seed: int, minutes: float) -> Path:
    """Train (unless done) and evaluate one variant; the eval JSON's path."""
    model = out / f"{name}_s{seed}.distill"
    result = out / f"{name}_s{seed}.eval.json"
    if not model.exists():
        extra = []
        if fields:
            toml = out / f"{name}.toml"
            lines = [f"{k} = {v}" for k, v in (item.split("=", 1) for item in fields.split(","))]
            toml.write_text("[train]\n" + "\n".join(lines) + "\n")
            extra = ["--config", str(toml)]
        subprocess.run([sys.executable, "-m", "distill_tui.cli", "train", str(data), "-o", str(model), "--minutes", str(minutes), "--clock", "cpu",
                        "--seed", str(seed), "--holdout", "files", "--json", "--quiet", *extra], check=True)
    if not result.exists():
        result.write_text(json.dumps(score(model, data)))
    return result


def score(model_path: Path, data: Path) -> dict:
    """What `eval --json` reports for the model (the same functions), without the two oracle ceilings (a third
    of the time): "model" (full band), "split", "held_out" / "trained" and "per_file"."""
    from distill_tui.analysis.evaluate import evaluate, held_out_digests, model_reconstructor
    from distill_tui.data.dataset import scan
    from distill_tui.inference.codec import load_codec
    from distill_tui.persistence.model_file import read_document

    codec = load_codec(model_path)
    files = scan(data, codec.spec).files
    digests, split_info = held_out_digests(read_document(model_path), files)
    report = evaluate(files, model_reconstructor(codec.model, codec.spec), codec.spec, with_oracle=False, held_out=digests)
    return {**report.summary(), "split": split_info, "per_file": report.per_file()}


def kind_of(path: str, data: Path) -> str:
    """The file's first folder under DATA_DIR (pads, hits, loops...)."""
    try:
        rel = Path(path).relative_to(data.absolute())
    except ValueError:
        return Path(path).parent.name
    return rel.parts[0] if len(rel.parts) > 1 else "."


def row(label: str, report: dict, data: Path) -> dict:
    """Means of one eval report: trained, held out, ratio, per kind, and the held-out files by name."""
    files = report["per_file"]
    trained = [f for f in files if not f.get("held_out")]
    held = [f for f in files if f.get("held_out")]
    kinds: dict[str, dict[str, list[float]]] = {}
    for f in files:
        kinds.setdefault(kind_of(f["path"], data), {"trained": [], "held_out": []})[
            "held_out" if f.get("held_out") else "trained"].append(f["lsd_db"])
    t, h = mean(f["lsd_db"] for f in trained), mean(f["lsd_db"] for f in held) if held else float("nan")
    return {"label": label, "all": report["model"]["lsd_db"], "trained": t, "held_out": h, "ratio": h / t,
            "kinds": {k: {w: (round(mean(v), 2) if v else None) for w, v in d.items()} for k, d in sorted(kinds.items())},
            "held_files": {Path(f["path"]).name: f["lsd_db"] for f in held}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--out", type=Path, default=Path("bench/out/generalize"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[2])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--variant", action="append", default=[], help="NAME=FIELD=VALUE,FIELD=VALUE ([train] fields)")
    ap.add_argument("--table-only", action="store_true", help="only read the eval JSON files already in --out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    variants = [v.split("=", 1) for v in args.variant] or [["base", ""]]
    if not args.table_only:
        for name, fields in variants:
            for seed in args.seeds:
                train_and_eval(args.data, args.out, name, fields, seed, args.minutes)
    rows = [row(p.name.removesuffix(".eval.json"), json.loads(p.read_text()), args.data)
            for p in sorted(args.out.glob("*.eval.json"))]
    print("| run | all files | training files | held-out files | ratio | held out (dB) | per kind: trained / held out |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        kinds = "; ".join(f"{k} {v['trained']} / {v['held_out']}" for k, v in r["kinds"].items())
        held = ", ".join(f"{n} {v:.2f}" for n, v in r["held_files"].items())
        print(f"| {r['label']} | {r['all']:.2f} | {r['trained']:.2f} | {r['held_out']:.2f} | {r['ratio']:.2f} | {held} | {kinds} |")
    for prefix in sorted({r["label"].rsplit("_s", 1)[0] for r in rows}):
        mine = [r for r in rows if r["label"].rsplit("_s", 1)[0] == prefix]
        print(f"{prefix}: median over {len(mine)} seed(s): training {median(r['trained'] for r in mine):.2f} dB, "
              f"held out {median(r['held_out'] for r in mine):.2f} dB, ratio {median(r['ratio'] for r in mine):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
