"""Chunked against one-pass decoding (issue 16): how far apart the two are, by Griffin-Lim context.

    PYTHONPATH=$PWD python bench/decode_chunks.py [--model samples/demo.distill] [--context 8 16 32 64]

Encodes a ~20 s sound made of ten synthesized 2 s sounds, decodes it once in one pass and then in chunks
of 100 positions (about 4.6 s, 4 seams) and of 430 positions (1 seam), and prints for each Griffin-Lim
context the largest spectrogram difference and the LSD between the chunked and the one-pass audio: the
mean over frames of the RMS over bins of the dB difference, floored 80 dB below the loudest bin.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import synth  # noqa: E402

from distill_tui.inference import codec as C  # noqa: E402


def lsd_db(a: np.ndarray, b: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    """Log-spectral distance of `a` from the reference `b`, floored 80 dB below b's loudest bin."""
    window = torch.hann_window(n_fft)
    spec_a = torch.stft(torch.from_numpy(a), n_fft, hop, window=window, return_complex=True).abs()
    spec_b = torch.stft(torch.from_numpy(b), n_fft, hop, window=window, return_complex=True).abs()
    floor = float(spec_b.max()) * 1e-4
    diff = 20 * torch.log10(spec_a.clamp_min(floor)) - 20 * torch.log10(spec_b.clamp_min(floor))
    return float(torch.sqrt((diff**2).mean(0)).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "samples" / "demo.distill")
    parser.add_argument("--context", type=int, nargs="+", default=[8, 16, 32, 64])
    args = parser.parse_args()
    codec = C.load_codec(args.model)
    kinds = ["pad", "pluck", "sweep", "tone", "kick", "noise", "pad", "pluck", "sweep", "tone"]
    x = np.concatenate([synth(k, 2.0, seed=i) for i, k in enumerate(kinds)])
    grid = codec.encode_samples(x, "twenty")
    one = codec.decode(grid, max_seconds=None)
    print(f"{grid.positions} positions ({grid.seconds:.1f} s); one pass against the source: LSD {lsd_db(one.audio, x[: len(one.audio)]):.2f} dB")
    print("| Griffin-Lim context (frames) | chunk (positions) | seconds | max spectrogram difference (dB) | LSD to one pass (dB) | largest sample difference |")
    print("|---|---|---|---|---|---|")
    for context in args.context:
        C.GL_CONTEXT_FRAMES = context
        for chunk in (100, 430):
            started = time.perf_counter()
            part = codec.decode(grid, max_seconds=None, chunk_positions=chunk)
            took = time.perf_counter() - started
            print(f"| {context} | {chunk} | {took:.2f} | {np.abs(part.db - one.db).max():.1e} | "
                  f"{lsd_db(part.audio, one.audio):.3f} | {np.abs(part.audio - one.audio).max():.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
