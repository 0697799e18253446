"""Issue 14, loops: how many finalists to hear. Generated loops decoded as loops, their audio seam against the
same codes decoded once, with `loops.make_loop` hearing F finalists (the candidates whose wraps jump least on the
decoder's spectrum, decoded as loops; the smoother audio wrap kept).

    python bench/bench_loop_finalists.py MODEL [--finalists 1 2] [--first-seed 4] [--seeds 16] [--seconds 2]

For each F and each seed: `InferenceSession.generate(loop=True)` with that seed, then
`analysis.generation.audio_loop_seam` of `decode_loop` (circular) and of the one-off `decode` played round, as
tests/test_loop_play.py measures the issue's seam target (median ratio <= 1). Prints per F the median ratios, how
many loops are within 1, how often the circular decode is the smoother, and the median time of `generate`.
"""

from __future__ import annotations

import argparse
import time
from statistics import median

from distill_tui.analysis.generation import audio_loop_seam
from distill_tui.inference import loops
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.inference.session import InferenceSession


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--finalists", type=int, nargs="+", default=[1, loops.FINALISTS])
    ap.add_argument("--first-seed", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    eng = InferenceSession.load(args.model)
    n_fft, hop = eng.codec.spec.n_fft, eng.codec.spec.hop_length
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for f in args.finalists:
        loops.make_loop.__kwdefaults__["finalists"] = f  # what `generate(loop=True)` calls, as the editor does
        circular, one_off, took = [], [], []
        for s in seeds:
            t0 = time.perf_counter()
            grid, _ = eng.generate(args.seconds, SamplingSettings(seed=s), name="loop", loop=True)
            took.append(time.perf_counter() - t0)
            circular.append(audio_loop_seam(eng.decode_loop(grid, set()), n_fft, hop).ratio)
            one_off.append(audio_loop_seam(eng.decode(grid, set()).audio, n_fft, hop).ratio)
        print(f"finalists {f}, seeds {seeds.start}-{seeds.stop - 1}: circular median {median(circular):.3f} "
              f"(<= 1: {sum(r <= 1 for r in circular)}/{len(circular)}), one-off median {median(one_off):.3f}, "
              f"circular smoother in {sum(c < o for c, o in zip(circular, one_off, strict=True))}/{len(circular)}; "
              f"generate median {median(took):.2f} s", flush=True)


if __name__ == "__main__":
    main()
