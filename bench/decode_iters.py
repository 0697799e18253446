"""Griffin-Lim iterations against quality and time, through a real model, scored full band at each file's rate.

    python bench/decode_iters.py MODEL [--corpus pads-drums-20] [--iters 16 24 32]

Decodes every corpus file with `Codec.decode(iters=N)` (PGHI start) on one torch thread and prints the mean
full-band LSD (`analysis/quality.full_band_lsd`) and the median decode time per second of audio, as wall time
and as the CPU time of the decoding thread (`time.thread_time`, which a shared machine's load barely moves).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

from distill_tui.analysis.quality import full_band_lsd  # noqa: E402
from distill_tui.audio.io import load_audio, resample  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--corpus", default="pads-drums-20")
    ap.add_argument("--iters", type=int, nargs="+", default=[16, 24, 32])
    args = ap.parse_args()
    torch.set_num_threads(1)
    codec = load_codec(args.model)
    rate = codec.spec.sample_rate
    lsd: dict[int, list[float]] = {n: [] for n in args.iters}
    ms: dict[int, list[float]] = {n: [] for n in args.iters}
    cpu: dict[int, list[float]] = {n: [] for n in args.iters}
    for path in corpus.files(args.corpus):
        original = load_audio(path)
        grid = codec.encode_file(path)
        for n in args.iters:
            t0, c0 = time.perf_counter(), time.thread_time()
            decoded = codec.decode(grid, iters=n).audio
            ms[n].append(1e3 * (time.perf_counter() - t0) / (len(decoded) / rate))
            cpu[n].append(1e3 * (time.thread_time() - c0) / (len(decoded) / rate))
            if original.sample_rate != rate:
                decoded = resample(decoded, rate, original.sample_rate)
            lsd[n].append(full_band_lsd(original.samples, decoded, original.sample_rate))
    out = {n: {"lsd_db": round(float(np.mean(lsd[n])), 3), "ms_per_audio_s": round(statistics.median(ms[n]), 1),
               "cpu_ms_per_audio_s": round(statistics.median(cpu[n]), 1)}
           for n in args.iters}
    for n, row in out.items():
        print(f"{n:3d} iterations: full-band LSD {row['lsd_db']:.3f} dB, {row['ms_per_audio_s']:.1f} ms per second of audio "
              f"(CPU {row['cpu_ms_per_audio_s']:.1f} ms)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
