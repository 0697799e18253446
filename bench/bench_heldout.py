"""Held-out sounds against trained ones, with a fixed split of 4 of the 20 files (issue 13, item 5).

    python bench/bench_heldout.py make-splits /tmp/pd20 /tmp/ho          # A/{train,held}, B/{train,held}
    python bench/bench_heldout.py score /tmp/ho/runs/NAME_A_s2.distill /tmp/ho/A   # -> NAME_A_s2.score.json
    python bench/bench_heldout.py table /tmp/ho/runs
    python bench/bench_heldout.py diagnose /tmp/ho/runs/NAME_A_s2.distill /tmp/ho/A  # where the held-out error comes from

`--holdout files` holds out ~10 % (2 of 20 files), too few for the ratio to mean much; here each split is two
folders of links: `train/` (16 files the model trains on, `--holdout none`) and `held/` (4 it never hears),
one hit, one loop and two pads or one hit, one loop, one pad and one texture. Split A trains with seed 2, B with
seed 3, the same files for every configuration. Every file is scored as `eval --json` scores it (full-band LSD
at its own rate, `analysis.evaluate`, no oracle ceilings); per kind = the file's folder (beats: loops, drums:
hits, stringsnpads: pads and textures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from statistics import mean, median

SPLITS = {"A": ("bassdrum01", "crash01", "heaven_strings01", "909beat01"),
          "B": ("clap01", "break01", "juno_pad01", "nord_ambient01")}


def make_splits(corpus: Path, out: Path) -> None:
    for name, held in SPLITS.items():
        for f in sorted(corpus.rglob("*.ogg")):
            part = "held" if f.stem in held else "train"
            link = out / name / part / f.parent.name / f.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                os.symlink(os.path.realpath(f), link)


def score(model: Path, split_dir: Path) -> dict:
    """Per file (path, kind, held out or not, full-band LSD dB) for the split's training and held-out files."""
    from distill_tui.analysis.evaluate import evaluate, model_reconstructor
    from distill_tui.data.dataset import scan
    from distill_tui.inference.codec import load_codec

    codec = load_codec(model)
    rows = []
    for part in ("train", "held"):
        files = scan(split_dir / part, codec.spec).files
        report = evaluate(files, model_reconstructor(codec.model, codec.spec), codec.spec, with_oracle=False)
        for f, r in zip(files, report.per_file(), strict=True):
            rows.append({"file": f.path.name, "kind": f.path.parent.name, "held_out": part == "held",
                         "lsd_db": r["lsd_db"]})
    return {"model": str(model), "split": split_dir.name, "files": rows}


def summarize(report: dict) -> dict:
    rows = report["files"]
    t = mean(r["lsd_db"] for r in rows if not r["held_out"])
    h = mean(r["lsd_db"] for r in rows if r["held_out"])
    kinds: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        kinds.setdefault(r["kind"], {"trained": [], "held": []})["held" if r["held_out"] else "trained"].append(r["lsd_db"])
    return {"trained": t, "held_out": h, "ratio": h / t,
            "kinds": {k: {w: round(mean(v), 2) for w, v in d.items() if v} for k, d in sorted(kinds.items())},
            "held_files": {r["file"].removesuffix(".ogg"): r["lsd_db"] for r in rows if r["held_out"]}}


def table(runs: Path) -> None:
    sums = {p.name.removesuffix(".score.json"): summarize(json.loads(p.read_text())) for p in sorted(runs.glob("*.score.json"))}
    print("| run | training files | held-out files | ratio | held-out files (dB) | per kind: trained / held out |")
    print("|---|---|---|---|---|---|")
    for name, s in sums.items():
        held = ", ".join(f"{n} {v:.2f}" for n, v in s["held_files"].items())
        kinds = "; ".join(f"{k} {v.get('trained')} / {v.get('held')}" for k, v in s["kinds"].items())
        print(f"| {name} | {s['trained']:.2f} | {s['held_out']:.2f} | {s['ratio']:.2f} | {held} | {kinds} |")
    for config in sorted({n.split("_")[0] for n in sums}):
        mine = [s for n, s in sums.items() if n.split("_")[0] == config]
        print(f"{config}: mean over {len(mine)} run(s): training {mean(s['trained'] for s in mine):.2f} dB, held out "
              f"{mean(s['held_out'] for s in mine):.2f} dB, ratio {median(s['ratio'] for s in mine):.2f} (median)")


def _columns(db, stride: int):
    """(1, F, T) relative dB -> (T / stride, stride * F) float64 rows, one per grid column."""
    f, t = db.shape[1:]
    return db[0].T.reshape(t // stride, stride * f).double().numpy()


def diagnose(model: Path, split_dir: Path, pca_dims: tuple[int, ...] = (32, 64)) -> dict:
    """Where held-out error comes from, in the model's own domain (`frame_distance_db`, no Griffin-Lim).

    Per part (train / held), the mean distance of: the codes (levels 1..k, `L1`...), the unquantized latent
    through the same decoder (`continuous`: if it is as bad as the codes, the quantizer is not what fails on new
    sounds), and a linear code (`pcaN`: N principal components of the training files' grid columns, stride
    frames x bins each; what a code with no memory of the training sounds beyond a linear basis reaches).
    """
    import numpy as np
    import torch

    from distill_tui.audio.spectrogram import magnitude_db, to_relative_db
    from distill_tui.data.dataset import scan
    from distill_tui.inference.codec import load_codec
    from distill_tui.model.vqvae import frame_distance_db

    codec = load_codec(model)
    m, spec = codec.model.eval(), codec.spec
    s, q = m.cfg.stride, m.cfg.levels
    sounds = {part: [(f.path.name, m.pad_frames(to_relative_db(magnitude_db(torch.from_numpy(f.samples)[None], spec),
                                                                spec.floor_db, f.ref_db)))
                     for f in scan(split_dir / part, spec).files] for part in ("train", "held")}
    x = np.concatenate([_columns(db, s) for _, db in sounds["train"]])  # (N, stride * F)
    mu = x.mean(0)
    basis = np.linalg.svd(x - mu, full_matrices=False)[2]  # (min(N, stride * F), stride * F)
    out: dict = {"model": str(model), "split": split_dir.name, "training_columns": len(x)}
    for part, items in sounds.items():
        rows = []
        for name, db in items:
            with torch.no_grad():
                codes = m.encode(db)  # (1, Q, P)
                row = {f"L{k}": float(frame_distance_db(m.decode(codes, levels=k), db)) for k in range(1, q + 1)}
                row["continuous"] = float(frame_distance_db(m.reconstruct_continuous(db), db))
            cols = _columns(db, s)
            for k in pca_dims:
                rec = (cols - mu) @ basis[:k].T @ basis[:k] + mu  # (P, stride * F)
                pred = torch.from_numpy(rec.reshape(-1, s, db.shape[1]).reshape(-1, db.shape[1]).T[None]).float()
                row[f"pca{k}"] = float(frame_distance_db(pred.clamp(spec.floor_db, 0.0), db))
            rows.append({"file": name, **{k: round(v, 2) for k, v in row.items()}})
        out[part] = {"mean": {k: round(mean(r[k] for r in rows), 2) for k in rows[0] if k != "file"}, "files": rows}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-splits")
    m.add_argument("corpus", type=Path)
    m.add_argument("out", type=Path)
    s = sub.add_parser("score")
    s.add_argument("model", type=Path)
    s.add_argument("split_dir", type=Path)
    t = sub.add_parser("table")
    t.add_argument("runs", type=Path)
    d = sub.add_parser("diagnose")
    d.add_argument("model", type=Path)
    d.add_argument("split_dir", type=Path)
    args = ap.parse_args()
    if args.cmd == "make-splits":
        make_splits(args.corpus, args.out)
    elif args.cmd == "score":
        out = args.model.with_suffix(".score.json")
        out.write_text(json.dumps(score(args.model, args.split_dir), indent=1))
        print(json.dumps(summarize(json.loads(out.read_text()))))
    elif args.cmd == "diagnose":
        print(json.dumps(diagnose(args.model, args.split_dir), indent=1))
    else:
        table(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
