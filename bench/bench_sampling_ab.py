"""Sampling speed of two checkouts, interleaved on one noisy machine (issue 14: >= 2,000 tokens/s at batch 1).

    git worktree add /tmp/before <commit>
    python bench/bench_sampling_ab.py /tmp/before . MODEL.distill [--rounds 30] [--positions 87]

Starts one warm process per checkout (one thread each) and asks them in turn, alternating who goes first, to
generate one grid of `--positions` positions with seeds 1, 2, ...; prints each side's median tokens per CPU
second and the median of the per-round ratios B / A. A shared VM's speed swings by a factor of two within
minutes, so only figures taken in one interleaved run are compared.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = """
import sys, time, torch
tree = sys.argv[1]; sys.path.insert(0, tree)
import distill_tui
assert distill_tui.__file__.startswith(tree), distill_tui.__file__
from distill_tui.inference.generate import Prior, SamplingSettings
torch.set_num_threads(1)
prior, n = Prior.from_model_file(sys.argv[2]), int(sys.argv[3])
prior.generate(n, SamplingSettings(seed=0))
for line in sys.stdin:
    t = time.process_time(); prior.generate(n, SamplingSettings(seed=int(line))); dt = time.process_time() - t
    print(n * prior.levels / dt, flush=True)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path, help="checkout A (the code before)")
    ap.add_argument("b", type=Path, help="checkout B (the code after)")
    ap.add_argument("model", type=Path)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--positions", type=int, default=87, help="87 positions: 4 s at 44.1 kHz, hop 512, stride 4")
    args = ap.parse_args()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(t.resolve()), str(args.model), str(args.positions)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for t in (args.a, args.b)]
    rates: list[list[float]] = [[], []]
    for r in range(args.rounds):
        for k in (0, 1) if r % 2 == 0 else (1, 0):
            workers[k].stdin.write(f"{r + 1}\n")
            workers[k].stdin.flush()
            rates[k].append(float(workers[k].stdout.readline()))
    for w in workers:
        w.stdin.close()
        w.wait()
    ratio = statistics.median(b / a for a, b in zip(*rates, strict=True))
    print(f"{args.model.name}: A {statistics.median(rates[0]):.0f} tokens/s ({min(rates[0]):.0f}-{max(rates[0]):.0f}), "
          f"B {statistics.median(rates[1]):.0f} ({min(rates[1]):.0f}-{max(rates[1]):.0f}), median ratio B/A "
          f"{ratio:.2f}; {args.rounds} rounds of {args.positions} positions, CPU time, one thread")


if __name__ == "__main__":
    main()
