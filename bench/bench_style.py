"""Does `generate --like` take after the chosen sound? Nearest training windows, plausibility and copy rates.

    python bench/bench_style.py MODEL DATA_DIR [--n 6] [--seconds 3] [--strengths 0,1,2] [--json OUT]

For each chosen sound (a pad, a drum loop, a hit; paths relative to DATA_DIR), n sounds are made without
--like (plain generation; for the hit a one-shot of the hit's length) and with --like at each strength.
Every generated sound is decoded and cut into back-to-back 0.5-s windows; each window's nearest training
window (any file of DATA_DIR, any offset; analysis/generation.py) names a file. Reported per condition:
the share of windows whose nearest file is the chosen one, and whose nearest file is of the chosen
one's kind (its folder), the plausibility (mean LSD to the nearest window, dB), and the 8-position
column copy rate and token 8-gram copy rate against the chosen sound's grid.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from distill_tui.analysis.generated import relative_spectrum
from distill_tui.analysis.generation import WINDOW_SECONDS, _nearest_windows, column_copy_rate
from distill_tui.analysis.memorization import copy_rate
from distill_tui.audio.io import is_audio_file
from distill_tui.data.dataset import load_named_audio
from distill_tui.inference.codec import Codec, build_vqvae
from distill_tui.inference.generate import Prior, positions_for_seconds, silence_column
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.inference.style import generate_like
from distill_tui.persistence.model_file import load_model_file

CHOSEN = {"pad": ("stringsnpads/juno_pad01.ogg", "generate"), "loop": ("beats/break01.ogg", "generate"),
          "hit": ("drums/crash01.ogg", "one-shot")}


def nearest_files(spec: np.ndarray, train: list[np.ndarray], frames: int, floor_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Per back-to-back window of spec (F, T): the index of the training sound holding its nearest window, and the distance."""
    w = min(frames, spec.shape[1])
    starts = np.arange(0, spec.shape[1] - w + 1, w)
    dist = np.full((len(train), len(starts)), np.inf)
    for i, t in enumerate(train):
        if t.shape[1] < w:
            t = np.pad(t, ((0, 0), (0, w - t.shape[1])), constant_values=floor_db)
        dist[i] = _nearest_windows(spec, starts, w, t)
    return dist.argmin(axis=0), dist.min(axis=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path)
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--strengths", default="0,1,2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-prompt", action="store_true", help="the lean alone, no prompt")
    ap.add_argument("--only", help="comma-separated: pad, loop, hit (default all)")
    ap.add_argument("--hit", default=CHOSEN["hit"][0], help="the hit, relative to DATA_DIR")
    args = ap.parse_args()

    mf = load_model_file(args.model)
    prior = Prior.from_loaded(mf, args.model)
    vq, spec = build_vqvae(mf, args.model)
    codec = Codec(vq, spec, mf.fingerprint, mf.document)
    files = sorted(p for p in args.data.rglob("*") if p.is_file() and is_audio_file(p))
    rel = [str(p.relative_to(args.data)) for p in files]
    kinds = [r.split("/")[0] for r in rel]
    audio = [load_named_audio(p, spec.sample_rate).samples for p in files]
    train_specs = [relative_spectrum(codec, a) for a in audio]
    grids = [codec.encode_samples(a).codes for a in audio]
    frames = max(1, round(WINDOW_SECONDS * spec.sample_rate / spec.hop_length))
    silence = silence_column(codec)
    strengths = [float(v) for v in args.strengths.split(",")]
    rows = []
    chosen_set = {**CHOSEN, "hit": (args.hit, "one-shot")}
    only = set(args.only.split(",")) if args.only else set(chosen_set)
    for label, (path, mode) in chosen_set.items():
        if label not in only:
            continue
        ci = rel.index(path)
        chosen = grids[ci]
        seconds = args.seconds if mode == "generate" else len(audio[ci]) / spec.sample_rate
        positions = max(4, positions_for_seconds(seconds, spec.sample_rate, spec.hop_length, codec.cfg.stride))
        for strength in [None, *strengths]:
            settings = SamplingSettings(seed=args.seed)
            t0 = time.perf_counter()
            if strength is None:
                if mode == "one-shot":
                    made = [prior.one_shot(silence, positions, SamplingSettings(seed=args.seed + k)) for k in range(args.n)]
                else:
                    made = list(prior.generate_batch(args.n, positions, settings))
            else:
                made = [s.codes for s in generate_like(prior, [chosen], args.n, positions, settings, strength=strength,
                                                       mode=mode, silence=silence,
                                                       prompt=not args.no_prompt).sounds]
            sample_s = time.perf_counter() - t0
            near, dist = [], []
            for codes in made:
                g = relative_spectrum(codec, codec.decode(codec._grid(codes, "g", {})).audio)
                idx, d = nearest_files(g, train_specs, frames, spec.floor_db)
                near.extend(idx.tolist())
                dist.extend(d.tolist())
            near_a = np.array(near)
            row = {"chosen": label, "file": path, "mode": mode, "strength": strength, "sounds": len(made),
                   "positions": positions, "windows": len(near),
                   "nearest_is_chosen": round(float(np.mean(near_a == ci)), 3),
                   "nearest_same_kind": round(float(np.mean([kinds[i] == kinds[ci] for i in near])), 3),
                   "plausibility_db": round(float(np.mean(dist)), 3),
                   "copy_columns_vs_chosen": round(column_copy_rate(made, [chosen]), 3),
                   "copy_tokens_vs_chosen": round(copy_rate(made, [chosen], codec.codebook_sizes), 3),
                   "copy_columns_vs_corpus": round(column_copy_rate(made, grids), 3),
                   "sampling_s": round(sample_s, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"model": str(args.model), "data": str(args.data), "n": args.n,
                                         "seconds": args.seconds, "seed": args.seed, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
