"""Benchmark variations (`distill-tui vary --keep-levels 1`) against issue 14's target.

    python bench/bench_vary.py MODEL SOUND_OR_FOLDER [...] [-n 4] [--keep-levels 1] [--seed 0] [--temperature 1]
        [--any-shape] [--nudge] [--json OUT]

For each sound (audio, encoded by MODEL at its rate; sounds over the 60-s limit are skipped) it decodes the
source grid and N variations, and measures each variation against its source:

- LSD, full band (`analysis.quality.full_band_lsd`), against the *decoded* source, so that the codec's own
  reconstruction error is not counted as variation; the LSD against the original audio (full band, at the
  file's own rate, `full_band_measure`) is given beside it, with the source decode's own LSD for scale;
- loudness envelope: Pearson correlation of per-frame RMS dB (frames of one grid position, floored at 80 dB
  below the loudest frame) of the variation against the decoded source; against the original audio at the
  model's rate beside it, with the source decode's own correlation for scale (a model that loses a sound's
  envelope when it merely encodes and decodes it cannot keep it in a variation);
- distinct: every pair of variations differs in its codes, and the smallest LSD between two of them.

Target (issue 14): LSD > 2 dB, envelope correlation >= 0.8, no two the same; judged against the decoded source
(what the variation changed), the columns against the original given beside. Prints one line per sound and the
medians; `--json` writes the per-sound records.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_tui.analysis.quality import full_band_lsd, full_band_measure  # noqa: E402
from distill_tui.audio.io import is_audio_file, load_audio, resample  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.inference.generate import Prior  # noqa: E402
from distill_tui.inference.sampling import SamplingSettings  # noqa: E402
from distill_tui.inference.variations import MAX_SECONDS, near_codes, parse_levels, shape_judge, vary  # noqa: E402

LSD_TARGET, ENVELOPE_TARGET = 2.0, 0.8


def rms_db(audio: np.ndarray, frame: int) -> np.ndarray:
    """Per-frame RMS in dB (frames of `frame` samples), floored at 80 dB below the loudest frame."""
    n = len(audio) // frame
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))  # (n,)
    db = 20 * np.log10(np.maximum(rms, 1e-12))
    return np.maximum(db, db.max() - 80)


def envelope_correlation(reference: np.ndarray, estimate: np.ndarray, frame: int) -> float:
    a, b = rms_db(reference, frame), rms_db(estimate, frame)
    n = min(len(a), len(b))
    if n < 3 or np.std(a[:n]) == 0 or np.std(b[:n]) == 0:
        return float("nan")
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


def envelope_mad(reference: np.ndarray, estimate: np.ndarray, frame: int) -> float:
    """Median absolute difference of per-frame RMS dB: how far the loudness moved, where a flat envelope makes
    the correlation meaningless."""
    a, b = rms_db(reference, frame), rms_db(estimate, frame)
    n = min(len(a), len(b))
    return float(np.median(np.abs(a[:n] - b[:n]))) if n else float("nan")


def sounds(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        out += sorted(f for f in p.rglob("*") if is_audio_file(f)) if p.is_dir() else [p]
    return out


def measure_sound(path: Path, codec, prior: Prior, n: int, keep: list[int], settings: SamplingSettings,
                  any_shape: bool = False, nudge: bool = False) -> dict | None:
    rate = codec.spec.sample_rate
    original = load_audio(path)  # at its own rate, for the full-band LSD
    if original.seconds > MAX_SECONDS:
        return None
    at_model = resample(original.samples, original.sample_rate, rate)
    grid = codec.encode_samples(at_model, name=path.stem)
    source = codec.decode(grid).audio
    frame = codec.cfg.stride * codec.spec.hop_length
    t0 = time.perf_counter()
    judge = None if any_shape else shape_judge(codec, grid.codes, grid.samples)
    result = vary(prior, grid.codes, n, settings, keep_levels=keep, judge=judge, nudge=near_codes(codec) if nudge else None)
    sample_s = time.perf_counter() - t0
    decoded, rows = [], []
    for v in result.variations:
        g = grid.copy()
        g.codes = v.codes
        audio = codec.decode(g).audio
        decoded.append(audio)
        rows.append({"lsd_vs_source": full_band_lsd(source, audio, rate),
                     "lsd_vs_original": full_band_measure(original.samples, original.sample_rate, audio, rate).lsd_db,
                     "envelope_r": envelope_correlation(at_model, audio, frame),
                     "envelope_r_vs_source": envelope_correlation(source, audio, frame),
                     "envelope_mad_db": envelope_mad(source, audio, frame),
                     "changed": v.changed})
    pairs = [full_band_lsd(a, b, rate) for a, b in itertools.combinations(decoded, 2)]
    distinct = len({v.codes.tobytes() for v in result.variations}) == n
    return {"sound": path.name, "seconds": round(original.seconds, 2), "positions": grid.positions,
            "source_lsd_vs_original": full_band_measure(original.samples, original.sample_rate, source, rate).lsd_db,
            "source_envelope_r": envelope_correlation(at_model, source, frame),
            "source_envelope_std_db": float(np.std(rms_db(source, frame))),
            "variations": rows, "distinct": distinct, "min_pair_lsd": min(pairs) if pairs else float("nan"),
            "rounds": result.rounds, "sampling_s": sample_s,
            "slots_per_s": grid.positions * prior.levels / max(sample_s, 1e-9)}


def meets(rec: dict) -> bool:
    """All three targets; an envelope of under 3 frames (NaN) cannot be judged and does not count against it."""
    env = [r["envelope_r_vs_source"] for r in rec["variations"] if not np.isnan(r["envelope_r_vs_source"])]
    return (min(r["lsd_vs_source"] for r in rec["variations"]) > LSD_TARGET
            and all(e >= ENVELOPE_TARGET for e in env) and rec["distinct"])


def _env(values: list[float]) -> str:
    values = [v for v in values if not np.isnan(v)]
    return f"{statistics.median(values):.3f} ({min(values):.3f})" if values else "n/a (under 3 frames)"


def _one(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.3f}"


def summary_line(rec: dict) -> str:
    lsd = [r["lsd_vs_source"] for r in rec["variations"]]
    env = [r["envelope_r_vs_source"] for r in rec["variations"]]
    env_original = [r["envelope_r"] for r in rec["variations"]]
    return (f"| {rec['sound']} | {rec['seconds']:.1f} | {rec['source_lsd_vs_original']:.2f} | "
            f"{statistics.median(lsd):.2f} ({min(lsd):.2f}) | "
            f"{statistics.median(r['lsd_vs_original'] for r in rec['variations']):.2f} | "
            f"{_env(env)} | {rec['source_envelope_std_db']:.1f} | "
            f"{statistics.median(r['envelope_mad_db'] for r in rec['variations']):.2f} | "
            f"{_env(env_original)} | {_one(rec['source_envelope_r'])} | {rec['min_pair_lsd']:.2f} | "
            f"{'yes' if rec['distinct'] else 'NO'} | {'met' if meets(rec) else 'missed'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("sounds", type=Path, nargs="+")
    ap.add_argument("-n", type=int, default=4)
    ap.add_argument("--keep-levels", default="1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--any-shape", action="store_true", help="as `vary --any-shape`: the first n drawn, unjudged")
    ap.add_argument("--nudge", action="store_true", help="as `vary --nudge`: the kept levels move to near codes at some positions")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    codec, prior = load_codec(args.model), Prior.from_model_file(args.model)
    keep = parse_levels(args.keep_levels, prior.levels)
    print("| sound | s | source decode: LSD vs original | LSD vs decoded source, median (min) | LSD vs original | "
          "envelope r vs decoded source, median (min) | source envelope std, dB | envelope median abs change, dB | "
          "envelope r vs original | source decode: envelope r vs original | min LSD between two | distinct | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    records = []
    for path in sounds(args.sounds):
        rec = measure_sound(path, codec, prior, args.n, keep, SamplingSettings(args.temperature, seed=args.seed),
                            args.any_shape, args.nudge)
        if rec is None:
            print(f"| {path.name} | over {MAX_SECONDS:g} s: skipped |")
            continue
        records.append(rec)
        print(summary_line(rec), flush=True)
    every = [r for rec in records for r in rec["variations"]]
    met = sum(meets(rec) for rec in records)
    env = [r["envelope_r_vs_source"] for r in every if not np.isnan(r["envelope_r_vs_source"])]
    print(f"\n{len(records)} sounds, {len(every)} variations: median LSD vs decoded source "
          f"{statistics.median(r['lsd_vs_source'] for r in every):.2f} dB "
          f"(share > {LSD_TARGET:g} dB: {np.mean([r['lsd_vs_source'] > LSD_TARGET for r in every]):.0%}), "
          f"median envelope r vs decoded source {statistics.median(env):.3f} "
          f"(share >= {ENVELOPE_TARGET:g}: {np.mean([e >= ENVELOPE_TARGET for e in env]):.0%} of {len(env)}), "
          f"all distinct: {all(rec['distinct'] for rec in records)}, sounds meeting all three: {met}/{len(records)}; "
          f"median sampling {statistics.median(rec['slots_per_s'] for rec in records):.0f} slots/s")
    if args.json:
        args.json.write_text("\n".join(json.dumps(rec) for rec in records) + "\n")


if __name__ == "__main__":
    main()
