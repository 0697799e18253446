"""Where the A/B words fall (tui/ab_listen.py): the LSD between an original and an edit's decode, on real sounds.

For each sound: the model's decode against its recording (what `a` compares before any edit), the decode against
a second decode of the same codes (the floor), and the decode against decodes after edits of growing size:
one cell of the coarsest level moved to the next code, a tenth of the finest level's cells re-rolled, the whole
finest, middle or coarsest level re-rolled. Also the time of the A/B key's work: the first press (read the
recording, decode the unedited codes, two distances) and a later one (one distance). Prints medians (min-max).

    python bench/ab_closeness.py MODEL.distill FOLDER [--files 8] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_tui.data.dataset import find_audio, load_named_audio  # noqa: E402
from distill_tui.inference.session import InferenceSession  # noqa: E402
from distill_tui.tui.ab_listen import closeness, distance_db  # noqa: E402


def edited(grid, case: str, rng: np.random.Generator):  # noqa: ANN001, ANN201
    out = grid.copy()
    q_fine, size = out.levels - 1, out.codebook_sizes
    if case == "one cell":
        q, p = 0, out.positions // 2
        out.codes[q, p] = (out.codes[q, p] + 1) % size[q]
    elif case == "10% of the finest level":
        cols = rng.choice(out.positions, max(1, out.positions // 10), replace=False)
        out.codes[q_fine, cols] = rng.integers(0, size[q_fine], len(cols))
    elif case == "the finest level re-rolled":
        out.codes[q_fine] = rng.integers(0, size[q_fine], out.positions)
    elif case == "the middle level re-rolled":
        q = out.levels // 2
        out.codes[q] = rng.integers(0, size[q], out.positions)
    elif case == "the coarsest level re-rolled":
        out.codes[0] = rng.integers(0, size[0], out.positions)
    return out


CASES = ("one cell", "10% of the finest level", "the finest level re-rolled", "the middle level re-rolled",
         "the coarsest level re-rolled")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    engine = InferenceSession.load(args.model)
    files = find_audio(args.folder)
    step = max(1, len(files) // args.files)
    files = files[::step][: args.files]
    rng = np.random.default_rng(args.seed)
    rows: dict[str, list[float]] = {"decode vs its recording": [], "decode vs decode (same codes)": []}
    rows.update({c: [] for c in CASES})
    first: list[float] = []
    later: list[float] = []
    t0 = time.perf_counter()
    for path in files:
        grid = engine.open_file(path)
        rate = grid.sample_rate
        t1 = time.perf_counter()
        recording = load_named_audio(path, rate).samples
        base = engine.decode(grid, set()).audio
        rows["decode vs its recording"].append(distance_db(recording, base, rate))
        t2 = time.perf_counter()
        distance_db(recording, base, rate)
        first.append(t2 - t1 + time.perf_counter() - t2)
        later.append(time.perf_counter() - t2)
        rows["decode vs decode (same codes)"].append(distance_db(base, engine.decode(grid, set()).audio, rate))
        for case in CASES:
            rows[case].append(distance_db(base, engine.decode(edited(grid, case, rng), set()).audio, rate))
    print(f"{len(files)} files, {time.perf_counter() - t0:.0f} s\n")
    print("| case | median LSD dB | min-max | word of the median |")
    print("|---|---|---|---|")
    for case, values in rows.items():
        med = statistics.median(values)
        print(f"| {case} | {med:.2f} | {min(values):.2f}-{max(values):.2f} | {closeness(med).word} |")
    print(f"\nA/B key's work: first press {statistics.median(first):.2f} s ({min(first):.2f}-{max(first):.2f}), "
          f"later presses {1000 * statistics.median(later):.0f} ms ({1000 * min(later):.0f}-{1000 * max(later):.0f})")


if __name__ == "__main__":
    main()
