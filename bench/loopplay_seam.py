"""Issue 14, loop playback: the seam heard where a generated loop repeats, decoded once (as the editor played a
sound before) against decoded as a loop (what it plays now), measured on the stream the mixer plays.

    python bench/loopplay_seam.py MODEL [--seconds 2] [--seeds 8]

For each seed, a loop is generated (`InferenceSession.generate(loop=True)`) and played round through the real
mixer (`playback.local.Mixer`) two ways: the one-off decode looped as a region (its tail cross-faded into its
head, as `play --loop` did), and the loop's cycle (`decode_loop`) as `seamless_cycle`. On one repetition of
each stream, `analysis.generation.audio_loop_seam` gives the jump at the repetition boundary against the
stream's median frame-to-frame jump (ratio <= 1: no rougher than the loop itself). As a control, the same
measure at the point halfway through the loop's stream (`mid_ratio`: a point with no seam, so about 1 in the
median by construction), and the codes' own wrap on the decoder's spectrum (`codes_ratio`, `loop_seam`).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from distill_tui.analysis.generation import audio_loop_seam, loop_seam
from distill_tui.inference.loops import loop_spectrum
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.inference.session import InferenceSession
from distill_tui.playback.local import Mixer, seamless_cycle


def one_repetition(buffer: np.ndarray, rate: int) -> np.ndarray:
    """The mixer's stream over its second repetition of `buffer` looped as a region (N,)."""
    mixer = Mixer(rate, 1)
    mixer.add(buffer, (0.0, len(buffer) / rate))
    period = len(mixer._voices[0].buffer)  # noqa: SLF001 - the region as the mixer loops it
    out = np.zeros((3 * period, 1), dtype=np.float32)
    for a in range(0, len(out), 512):
        mixer.render(out[a : a + 512])
    return out[period : 2 * period, 0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--seeds", type=int, default=8)
    args = ap.parse_args()
    engine = InferenceSession.load(args.model)
    spec, rate = engine.codec.spec, engine.sample_rate
    rows = []
    for seed in range(1, args.seeds + 1):
        grid, _ = engine.generate(args.seconds, SamplingSettings(seed=seed), loop=True)
        t0 = time.perf_counter()
        one_off = engine.decode(grid, set()).audio
        t1 = time.perf_counter()
        cycle = engine.decode_loop(grid, set())
        t2 = time.perf_counter()
        old = audio_loop_seam(one_repetition(one_off, rate), spec.n_fft, spec.hop_length)
        stream = one_repetition(seamless_cycle(cycle, rate), rate)
        new = audio_loop_seam(stream, spec.n_fft, spec.hop_length)
        mid = audio_loop_seam(np.roll(stream, len(stream) // 2), spec.n_fft, spec.hop_length)
        codes = loop_seam(loop_spectrum(engine.codec, grid.codes))
        rows.append({"seed": seed, "one_off_ratio": round(old.ratio, 3), "loop_ratio": round(new.ratio, 3),
                     "mid_ratio": round(mid.ratio, 3), "codes_ratio": round(codes.ratio, 3),
                     "one_off_seam_db": round(old.seam_db, 2), "loop_seam_db": round(new.seam_db, 2),
                     "median_jump_db": round(new.median_jump_db, 2),
                     "one_off_decode_s": round(t1 - t0, 3), "loop_decode_s": round(t2 - t1, 3)})
        print(json.dumps(rows[-1]), flush=True)
    old_r = [r["one_off_ratio"] for r in rows]
    new_r = [r["loop_ratio"] for r in rows]
    mid_r = [r["mid_ratio"] for r in rows]
    print(json.dumps({"model": args.model, "seconds": args.seconds, "loops": len(rows),
                      "one_off_median_ratio": float(np.median(old_r)), "loop_median_ratio": float(np.median(new_r)),
                      "mid_median_ratio": float(np.median(mid_r)), "mid_seamless": sum(r <= 1 for r in mid_r),
                      "one_off_seamless": sum(r <= 1 for r in old_r), "loop_seamless": sum(r <= 1 for r in new_r)}))


if __name__ == "__main__":
    main()
