"""Partial re-decode after one cell on a long sound, its arrays copied or taken over (the editor's way).

    python bench/bench_long_edit.py --model M.distill --sound LONG.wav [--edits 14] [--rounds 2]

Each round runs a chain of one-cell edits twice from a fresh full decode, once with `Auditioner.update`
copying the previous decode's arrays and once with `reuse=True` (the order alternates by round), on one torch
thread; the first two edits of a chain are left out of the median (the first window shapes). A long sound can
be made from the corpus: concatenate `python bench/corpus.py pads-drums-20 DIR`'s files to 3 minutes at 44.1 kHz.
Prints one line per chain and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_tui.codes import edits as E  # noqa: E402


def chain(aud, grid, edits: int, reuse: bool) -> list[float]:  # noqa: ANN001
    g = grid.copy()
    previous = aud.full(g)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(edits):
        q, p = int(rng.integers(0, g.levels)), int(rng.integers(0, g.positions))
        E.SetCell(level=q, position=p, code=int((g.codes[q, p] + 1) % g.codebook_sizes[q])).do(g)
        t0 = time.perf_counter()
        previous = aud.update(g, previous, reuse=reuse)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--sound", type=Path, required=True)
    ap.add_argument("--edits", type=int, default=14)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    import torch

    from distill_tui.inference.audition import Auditioner
    from distill_tui.inference.codec import load_codec

    torch.set_num_threads(1)
    codec = load_codec(args.model)
    grid = codec.encode_file(args.sound)
    aud = Auditioner(codec, threads=1)
    medians: dict[str, list[float]] = {"copied": [], "taken over": []}
    for r in range(args.rounds):
        for reuse in ((False, True) if r % 2 == 0 else (True, False)):
            times = chain(aud, grid, args.edits, reuse)
            key = "taken over" if reuse else "copied"
            medians[key].append(statistics.median(times[2:]) * 1e3)
            print(f"{key:10s} median {medians[key][-1]:.1f} ms; each: {[round(t * 1e3) for t in times]}")
    print(json.dumps({"sound_s": round(grid.seconds, 1), "grid": list(grid.codes.shape),
                      **{k: [round(m, 1) for m in v] for k, v in medians.items()}}))


if __name__ == "__main__":
    main()
