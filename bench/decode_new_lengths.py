"""What the first decode of a sound of a new length costs over a second decode of it (one thread).

    python bench/decode_new_lengths.py MODEL [--label NAME]

Eight noise sounds of 1-4 s are encoded, then each is decoded twice; the first decode of each length is
printed, and the median of (first - second). vector-quantize-pytorch's `get_output_from_indices` built an einx
graph for each new input shape, paid on the first decode of every length (bench/RESULTS.md, nineteenth session).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from distill_tui.inference.session import InferenceSession


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    codec = InferenceSession.load(args.model).codec
    load_ms = 1000 * (time.perf_counter() - t0)
    sr = codec.spec.sample_rate
    rng = np.random.default_rng(0)
    grids = [codec.encode_samples((0.1 * rng.standard_normal(int(s * sr))).astype(np.float32))
             for s in (1.0, 1.3, 1.7, 2.1, 2.6, 3.0, 3.4, 4.0)]
    first, again = [], []
    for grid in grids:
        t0 = time.perf_counter()
        codec.decode(grid)
        t1 = time.perf_counter()
        codec.decode(grid)
        first.append(1000 * (t1 - t0))
        again.append(1000 * (time.perf_counter() - t1))
    print(json.dumps({"label": args.label, "load_ms": round(load_ms), "first_decode_ms": [round(f) for f in first],
                      "second_decode_ms": [round(a) for a in again],
                      "first_minus_second_median_ms": round(statistics.median(f - a for f, a in zip(first, again, strict=True)))}))


if __name__ == "__main__":
    main()
