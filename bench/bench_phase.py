"""Phase reconstruction on exact magnitudes: fast Griffin-Lim from random phase against from PGHI.

    python bench/bench_phase.py [--corpus pads-drums-20] [--iters 32] [--threads 1]

Each file is read at its own rate (files above 48 kHz resampled to 48 kHz: `quality.scoring_rate`) and
scored over the full band with the log-spectral distance of `analysis/quality.py` (`full_band_lsd`; STFT
`quality.stft_size`, about 46 ms: 2048/512 at 44.1-48 kHz, 1024/256 at 22.05-24 kHz) and the spectral
convergence (dB, lower is better), on that file's exact STFT magnitude of the same size: what the phase alone
costs, with no model. Prints a Markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

from distill_tui.analysis.quality import full_band_lsd, scoring_rate, stft_size  # noqa: E402
from distill_tui.audio.io import load_audio  # noqa: E402
from distill_tui.audio.phase import BLOCK, pghi_phase  # noqa: E402
from distill_tui.audio.spectrogram import griffin_lim, initial_phase, stft  # noqa: E402


def spectral_convergence_db(ref: torch.Tensor, est: torch.Tensor, n_fft: int, hop: int) -> float:
    x, y = stft(ref[None], n_fft, hop).abs(), stft(est[None], n_fft, hop).abs()
    return float(20 * torch.log10((x - y).norm() / x.norm().clamp_min(1e-12)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="pads-drums-20")
    ap.add_argument("--iters", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--block", type=int, default=None, help="PGHI's fresh-start period in frames (default: the "
                    "decoder's, audio/phase.BLOCK; 0: integrate over the whole sound)")
    args = ap.parse_args()
    if not corpus.available():
        raise SystemExit("error: the lmms-common package is not installed (apt-get install -y lmms-common)")
    torch.set_num_threads(args.threads)
    rows = []
    print("| file | s | rate | LSD random | LSD PGHI | SC random | SC PGHI | ms random | ms PGHI (of which PGHI) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in corpus.files(args.corpus):
        audio = load_audio(path)
        rate = scoring_rate(audio.sample_rate)
        x = load_audio(path, rate).samples if rate != audio.sample_rate else audio.samples
        n_fft, hop = stft_size(rate)
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        mag = stft(xt[None], n_fft, hop).abs()  # (1, F, T)
        t0 = time.perf_counter()
        # the random start passed explicitly: without `phase`, griffin_lim itself starts from PGHI
        rand = griffin_lim(mag, n_fft, hop, iters=args.iters, length=len(x), phase=initial_phase(tuple(mag.shape))).audio[0]
        t_rand = time.perf_counter() - t0
        t0 = time.perf_counter()
        start = pghi_phase(mag, n_fft, hop, block=BLOCK if args.block is None else (args.block or None))
        t_init = time.perf_counter() - t0
        pghi = griffin_lim(mag, n_fft, hop, iters=args.iters, length=len(x), phase=start).audio[0]
        t_pghi = time.perf_counter() - t0
        row = {"file": f"{path.parent.name}/{path.name}", "seconds": round(len(x) / rate, 2), "rate": rate,
               "lsd_random": full_band_lsd(xt, rand, rate), "lsd_pghi": full_band_lsd(xt, pghi, rate),
               "sc_random": spectral_convergence_db(xt, rand, n_fft, hop), "sc_pghi": spectral_convergence_db(xt, pghi, n_fft, hop),
               "ms_random": 1e3 * t_rand, "ms_pghi": 1e3 * t_pghi, "ms_init": 1e3 * t_init}
        rows.append(row)
        print(f"| {row['file']} | {row['seconds']} | {rate} | {row['lsd_random']:.2f} | {row['lsd_pghi']:.2f} | "
              f"{row['sc_random']:.1f} | {row['sc_pghi']:.1f} | {row['ms_random']:.0f} | {row['ms_pghi']:.0f} ({row['ms_init']:.0f}) |")
    summary = {k: round(statistics.mean(r[k] for r in rows), 3) for k in ("lsd_random", "lsd_pghi", "sc_random", "sc_pghi")}
    summary["pghi_better_lsd"] = sum(r["lsd_pghi"] < r["lsd_random"] for r in rows)
    summary["files"] = len(rows)
    per_s = [r["ms_init"] / r["seconds"] for r in rows if r["seconds"] >= 1]
    summary["pghi_ms_per_audio_s_median"] = round(statistics.median(per_s), 1) if per_s else None
    print(f"\nmean LSD {summary['lsd_random']} -> {summary['lsd_pghi']} dB; SC {summary['sc_random']} -> {summary['sc_pghi']} dB; "
          f"PGHI better on {summary['pghi_better_lsd']}/{len(rows)}; {platform.node()}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
