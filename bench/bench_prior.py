"""Benchmark the prior: both architectures on real corpora, against the same-level bigram, on held-out whole sounds.

    python bench/bench_prior.py CORPUS=MODEL[,CORPUS=MODEL...] --out results.jsonl [--seeds 0,1,2]
        [--arch transformer,lstm] [--variant NAME:key=value;key=value] [--table]

CORPUS is a name from bench/corpus.py (its files are linked into a temporary folder); MODEL is a
VQ-VAE trained on that corpus (`distill-tui train DIR -o MODEL`). Each (corpus, architecture, seed,
variant) trains a prior on a copy of MODEL; the seed also picks the folds (k-fold by file, the figures in "folds"). Per run it
records validation and train perplexity, the bigram's, the 8-gram copy rate and nearest-grid
distance, CPU and wall time of training, sampling speed at batch 1 (4 s of codes, median of 5),
and for long generations the spectral flux at the window's slide points against elsewhere.
`--table` prints the medians as a Markdown table from the JSONL file.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.inference.generate import Prior, SamplingSettings, positions_for_seconds  # noqa: E402
from distill_tui.train.prior_loop import PriorRequest, PriorTrainConfig, train_prior  # noqa: E402

TRAIN_KEYS = {f for f in PriorTrainConfig.__dataclass_fields__}


def parse_variant(text: str) -> tuple[str, dict, dict]:
    """"name:key=value;key=value" -> (name, prior overrides, train overrides)."""
    name, _, rest = text.partition(":")
    prior, train = {}, {}
    for item in filter(None, rest.split(";")):
        key, _, value = item.partition("=")
        parsed = json.loads(value) if value not in {"transformer", "lstm"} else value
        (train if key in TRAIN_KEYS else prior)[key] = parsed
    return name, prior, train


def sampling_speed(prior: Prior, positions: int, batch: int = 1, runs: int = 5) -> tuple[float, float]:
    """Median tokens per wall second and per CPU second (the box is shared: both are reported)."""
    prior.generate_batch(batch, 8, SamplingSettings(seed=0))  # warm-up
    wall, cpu = [], []
    for i in range(runs):
        t, c = time.perf_counter(), time.process_time()
        prior.generate_batch(batch, positions, SamplingSettings(temperature=1.0, seed=100 + i))
        n = batch * positions * prior.levels
        wall.append(n / (time.perf_counter() - t))
        cpu.append(n / max(time.process_time() - c, 1e-9))
    return statistics.median(wall), statistics.median(cpu)


def seam_ratio(prior: Prior, model_path: Path, n: int = 64, slides: int = 12) -> tuple[float, float]:
    """Is there a mark where the window slides? Spectral flux (mean |dB change| between frames) into each
    position past the first window, grouped by phase relative to the slide points (phase 0 = the first
    position generated after a slide). Returns phase 0 over the mean of the other phases, and the
    largest over the smallest of the other phases (the spread with no slide involved)."""
    codec = load_codec(model_path)
    ctx, hop, stride = prior.cfg.context, prior.cfg.hop, codec.cfg.stride
    positions = ctx + slides * hop
    grids = prior.generate_batch(n, positions, SamplingSettings(temperature=1.0, seed=11))
    per_position = []
    for g in grids:
        db = codec.decode_db(g).cpu().numpy()  # (F, positions * stride)
        flux = np.abs(np.diff(db, axis=1)).mean(axis=0)  # (frames - 1,)
        per_position.append(flux[: (positions - 1) * stride].reshape(positions - 1, stride).mean(axis=1))
    flux = np.mean(per_position, axis=0)  # (positions - 1,)
    phase = np.array([flux[[p for p in range(ctx, positions - 1) if (p - ctx) % hop == k]].mean() for k in range(hop)])
    return float(phase[0] / phase[1:].mean()), float(phase[1:].max() / phase[1:].min())


def run_one(corpus_name: str, model: Path, data_dir: Path, arch: str, seed: int, variant: str, prior_kw: dict,
            train_kw: dict, work: Path, seam: bool) -> dict:
    path = work / f"{corpus_name}-{arch}-{variant}-s{seed}.distill"
    shutil.copyfile(model, path)
    tc = PriorTrainConfig(seed=seed, **train_kw)
    req = PriorRequest(model_path=path, run_dir=work / (path.name + ".run"), data_dir=data_dir, train=tc,
                       prior_overrides={"architecture": arch, **prior_kw})
    cpu0, wall0 = time.process_time(), time.perf_counter()
    res = train_prior(req)
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    prior = Prior.from_model_file(path)
    codec = load_codec(path)
    seconds_4 = positions_for_seconds(4.0, codec.spec.sample_rate, codec.spec.hop_length, codec.cfg.stride)
    r = res.report
    assert r is not None
    row = {
        "corpus": corpus_name, "arch": arch, "seed": seed, "variant": variant, "steps": res.step,
        "best_step": prior.doc["training"]["best_step"], "stopped_by": prior.doc["training"]["stopped_by"],
        "val_ppl": r.val_perplexity, "train_ppl": r.train_perplexity, "bigram_ppl": r.bigram_val_perplexity,
        "copy_rate": r.copy_rate_8gram, "nearest_hamming": r.nearest_hamming, "verdict": r.verdict,
        "train_cpu_s": round(cpu_s, 1), "train_wall_s": round(wall_s, 1), "parameters": prior.doc["parameters"],
        "train_files": res.train_files, "val_files": res.val_files, "levels": prior.levels,
        "codebook_sizes": prior.codebook_sizes, "context": prior.cfg.context, "folds": res.folds,
    }
    row.update(speed_row(prior, seconds_4))
    if seam:
        row["seam_flux_ratio"], row["seam_other_phases_spread"] = (round(v, 3) for v in seam_ratio(prior, path))
    path.unlink(missing_ok=True)
    shutil.rmtree(req.run_dir, ignore_errors=True)
    return row


def speed_row(prior: Prior, positions: int) -> dict:
    wall, cpu = sampling_speed(prior, positions)
    wall8, cpu8 = sampling_speed(prior, positions, batch=8, runs=3)
    return {"tokens_per_s_b1": round(wall, 1), "tokens_per_cpu_s_b1": round(cpu, 1), "tokens_per_s_b8": round(wall8, 1),
            "tokens_per_cpu_s_b8": round(cpu8, 1), "seconds_for_4s": round(positions * prior.levels / wall, 3)}


def table(rows: list[dict]) -> str:
    """Markdown: one row per (corpus, variant, architecture), per-split values in seed order, then medians."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["corpus"], r["variant"], r["arch"]), []).append(r)
    out = ["| corpus | variant | architecture | val ppl per split | bigram ppl per split | better than the bigram "
           "(median) | train ppl | 8-gram copy | nearest grid | train CPU s | tokens/s b=1 |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]

    def med(group: list[dict], key: str) -> float:
        values = [r[key] for r in group if key in r]
        return statistics.median(values) if values else math.nan

    for (c, v, a), g in sorted(groups.items(), key=lambda kv: (int(kv[0][0].rsplit("-", 1)[-1]), kv[0][1], kv[0][2])):
        g = sorted(g, key=lambda r: r["seed"])
        gains = [1 - r["val_ppl"] / r["bigram_ppl"] for r in g]
        per = " / ".join(f"{x:+.0%}" if x > 1e-4 else "fallback" for x in gains)
        rate = med(g, "tokens_per_cpu_s_b1")
        rate = med(g, "tokens_per_s_b1") if math.isnan(rate) else rate
        vals = " / ".join(f"{r['val_ppl']:.2f}" for r in g)
        bigrams = " / ".join(f"{r['bigram_ppl']:.2f}" for r in g)
        out.append(
            f"| {c} | {v} | {a} | {vals} | {bigrams} | {per} ({max(0.0, statistics.median(gains)):+.0%}) | "
            f"{med(g, 'train_ppl'):.2f} | {med(g, 'copy_rate'):.1%} | {med(g, 'nearest_hamming'):.2f} | "
            f"{med(g, 'train_cpu_s'):.0f} | {rate:,.0f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="?", default="", help="CORPUS=MODEL[,CORPUS=MODEL...]")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--arch", default="transformer,lstm")
    ap.add_argument("--variant", action="append", default=[], help="NAME:key=value;key=value (default: 'default:')")
    ap.add_argument("--seam", action="store_true", help="also measure the spectral flux at the window's slide points")
    ap.add_argument("--table", action="store_true", help="only print the table of --out")
    ap.add_argument("--measure", type=Path, help="only measure sampling speed and the seam of this MODEL's prior")
    args = ap.parse_args()
    if args.measure:
        prior = Prior.from_model_file(args.measure)
        codec = load_codec(args.measure)
        positions = positions_for_seconds(4.0, codec.spec.sample_rate, codec.spec.hop_length, codec.cfg.stride)
        row = {"model": str(args.measure), "arch": prior.cfg.architecture, **speed_row(prior, positions)}
        row["seam_flux_ratio"], row["seam_other_phases_spread"] = (round(v, 3) for v in seam_ratio(prior, args.measure))
        with args.out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row))
        return
    if args.table:
        rows = [json.loads(line) for line in args.out.read_text().splitlines() if line.strip()]
        print(table(rows))
        return
    variants = [parse_variant(v) for v in (args.variant or ["default:"])]
    work = Path(tempfile.mkdtemp(prefix="bench-prior-"))
    for item in filter(None, args.corpora.split(",")):
        name, _, model = item.partition("=")
        data_dir = corpus.link(name, work / name)
        for vname, prior_kw, train_kw in variants:
            for arch in args.arch.split(","):
                for seed in (int(s) for s in args.seeds.split(",")):
                    row = run_one(name, Path(model), data_dir, arch, seed, vname, prior_kw, train_kw, work, args.seam)
                    row["torch_threads"] = torch.get_num_threads()
                    with args.out.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
