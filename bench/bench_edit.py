"""Editing engine benchmark: edit / undo / redo on an 8 x 1000 grid, and full vs partial decode of a 4 s grid.

    python bench/bench_edit.py --model M.distill [--sound FILE] [--runs 50] [--edits 24] [--iters N] [--no-edits]

Decode times are given as wall time and as the CPU time of the decoding thread (`time.thread_time`; with one
torch thread all the work runs there): on a shared machine the second barely moves with the load.
`--iters` sets the auditioner's Griffin-Lim iterations (default: the model's, as an export); partial against
full compares with the auditioner's own full decode, and "vs export" with `Codec.decode` at the model's count.

The model should be a realistic one: `python bench/corpus.py pads-drums-20 DIR` then
`distill-tui train DIR -o M.distill --minutes 2` (3 levels x 64 codes). The sound defaults to the
corpus's 4.0 s loop `beats/electro_beat01.ogg`. Prints a Markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_tui.codes import edits as E  # noqa: E402
from distill_tui.codes.clipboard import Clipboard  # noqa: E402
from distill_tui.codes.grid import CodeGrid  # noqa: E402
from distill_tui.codes.history import EditHistory  # noqa: E402
from distill_tui.codes.patterns import euclid  # noqa: E402
from distill_tui.codes.selection import Selection  # noqa: E402
from distill_tui.model.latent import nearest_codes  # noqa: E402

SEED = 0
LEVELS, POSITIONS, K = 8, 1000, 64


def med(xs: list[float]) -> float:
    return statistics.median(xs) * 1e3


def p90(xs: list[float]) -> float:
    return float(np.percentile(xs, 90)) * 1e3


def bench_edits(runs: int) -> list[dict]:
    """Each operation on the whole 8 x 1000 grid (a single cell for set), through an EditHistory."""
    from distill_tui.config import ModelConfig
    from distill_tui.model.quantizer import Quantizer

    rng = np.random.default_rng(SEED)
    a = CodeGrid(rng.integers(0, K, (LEVELS, POSITIONS)), "bench", [K] * LEVELS, 22050, 256, 4,
                 source={"samples": (POSITIONS * 4 - 1) * 256})
    b = CodeGrid(rng.integers(0, K, (LEVELS, 1200)), "bench", [K] * LEVELS, 22050, 256, 4)
    torch.manual_seed(SEED)
    quantizer = Quantizer(ModelConfig(latent_dim=32, levels=LEVELS, codebook_sizes=[K] * LEVELS, kmeans_init=False)).eval()
    emb = [quantizer.embeddings(q).numpy() for q in range(LEVELS)]
    neighbours = [nearest_codes(e, 4) for e in emb]
    usage = [rng.integers(0, 100, K) for _ in range(LEVELS)]
    order = [rng.permutation(K) for _ in range(LEVELS)]
    clip = Clipboard.copy_from(b, Selection(0, None, 0, POSITIONS))
    holey = Clipboard(np.where(rng.random((LEVELS, POSITIONS)) < 0.5, -1, clip.values), 0, "bench", [K] * LEVELS)
    everything = Selection()
    makers = {
        "set one cell": lambda i: E.SetCell(level=i % LEVELS, position=(37 * i) % POSITIONS, code=i % K),
        "fill": lambda i: E.Fill(selection=everything, code=i % K),
        "nudge up": lambda i: E.Nudge(selection=everything, step=1, order=order),
        "paste (overwrite)": lambda i: E.Paste(clip=clip, position=0),
        "paste (mix)": lambda i: E.Paste(clip=holey, position=0, mode="mix"),
        "swap with B": lambda i: E.SwapRegion(selection=everything, other=b),
        "take 4 levels (stretch)": lambda i: E.TakeLevels(source=b, levels=[4, 5, 6, 7], align="stretch"),
        "insert 16 columns": lambda i: E.InsertColumns(at=500, count=16),
        "delete 16 columns": lambda i: E.DeleteColumns(start=500, stop=516),
        "duplicate 100 columns": lambda i: E.DuplicateColumns(100, 200),
        "repeat 100 columns x4": lambda i: E.RepeatColumns(start=100, stop=200, times=4),
        "reverse": lambda i: E.Reverse(selection=everything),
        "randomize (uniform)": lambda i: E.Randomize(selection=everything, seed=i),
        "randomize (usage)": lambda i: E.Randomize(selection=everything, mode="usage", seed=i, usage=usage),
        "randomize (nearest 4)": lambda i: E.Randomize(selection=everything, mode="nearest", seed=i, neighbours=neighbours),
        "blend 0.5 + re-quantize": lambda i: E.Blend(selection=everything, other=b, amount=0.5, quantizer=quantizer),
        "Euclidean pattern": lambda i: E.FillPattern(selection=everything, pattern=euclid(i % K, 5, 16, background=0)),
    }
    rows = []
    for name, make in makers.items():
        history = EditHistory()
        do_t, undo_t, redo_t = [], [], []
        for i in range(runs + 3):
            edit = make(i)
            t0 = time.perf_counter()
            history.apply(edit, a)
            t1 = time.perf_counter()
            history.undo()
            t2 = time.perf_counter()
            history.redo()
            t3 = time.perf_counter()
            history.undo()  # leave the grid as it was
            if i >= 3:  # warm-up
                do_t.append(t1 - t0)
                undo_t.append(t2 - t1)
                redo_t.append(t3 - t2)
        rows.append({"op": name, "do_ms": med(do_t), "do_p90_ms": p90(do_t), "undo_ms": med(undo_t), "redo_ms": med(redo_t)})
    return rows


def consistency_db(aud, grid: CodeGrid, result) -> float:
    """How far the audio's own spectrogram is from the one the decoder predicted (LSD-like, dB): a
    measure of Griffin-Lim's success that does not depend on which of many phase solutions it found."""
    from distill_tui.audio.spectrogram import from_db, stft

    spec = aud.codec.spec
    mag = stft(torch.from_numpy(result.raw)[None], spec.n_fft, spec.hop_length).abs()[0]  # (F, T)
    target = from_db(torch.from_numpy(result.db), spec.floor_db) * aud._scale(grid)  # (F, T)
    x, y = 20 * torch.log10(mag.clamp_min(1e-8)), 20 * torch.log10(target.clamp_min(1e-8))
    floor = float(y.max()) - 80
    return float((x.clamp_min(floor) - y.clamp_min(floor)).pow(2).mean(dim=0).sqrt().mean())


def _timed(fn):
    """(result, wall seconds, CPU seconds of this thread)."""
    w0, c0 = time.perf_counter(), time.thread_time()
    out = fn()
    return out, time.perf_counter() - w0, time.thread_time() - c0


def bench_audition(model: Path, sound: Path, edits: int, runs: int, threads: int, iters: int | None) -> dict:
    from distill_tui.analysis.quality import log_spectral_distance
    from distill_tui.inference.audition import Auditioner
    from distill_tui.inference.codec import load_codec

    codec = load_codec(model)
    grid = codec.encode_file(sound)
    aud = Auditioner(codec, threads=threads, iters=iters)
    for _ in range(2):
        aud.full(grid)
    full_runs = [_timed(lambda: aud.full(grid)) for _ in range(runs)]
    base = aud.full(grid)
    rng = np.random.default_rng(SEED)
    part_t, part_cpu, lsd, lsd_export, identical = [], [], [], [], 0
    for _ in range(edits):
        q, p = int(rng.integers(0, grid.levels)), int(rng.integers(0, grid.positions))
        code = int((grid.codes[q, p] + rng.integers(1, grid.codebook_sizes[q])) % grid.codebook_sizes[q])
        edit = E.SetCell(level=q, position=p, code=code)
        edit.do(grid)
        part, wall, cpu = _timed(lambda: aud.update(grid, base))
        full = aud.full(grid)
        export = codec.decode(grid).audio
        a, b = aud.rf.frames(p, p + 1, base.db.shape[1])
        outside = np.ones(base.db.shape[1], dtype=bool)
        outside[a:b] = False
        identical += int(np.array_equal(part.db[:, outside], base.db[:, outside]))
        part_t.append(wall)
        part_cpu.append(cpu)
        lsd.append(log_spectral_distance(full.audio, part.audio))
        lsd_export.append(log_spectral_distance(export, part.audio))
        edit.undo(grid)
    # a chain: each partial re-decode starts from the previous one (how the TUI uses it)
    chain = base
    for _ in range(edits):
        q, p = int(rng.integers(0, grid.levels)), int(rng.integers(0, grid.positions))
        E.SetCell(level=q, position=p, code=int(rng.integers(0, grid.codebook_sizes[q]))).do(grid)
        chain = aud.update(grid, chain)
    fresh = aud.full(grid)
    chain_lsd = log_spectral_distance(fresh.audio, chain.audio)
    chain_consistency, full_consistency = consistency_db(aud, grid, chain), consistency_db(aud, grid, fresh)
    full_t, full_cpu = [r[1] for r in full_runs], [r[2] for r in full_runs]
    return {
        "sound": str(sound), "seconds": round(len(base.audio) / codec.spec.sample_rate, 3), "grid": list(grid.codes.shape),
        "receptive_field_frames": [aud.rf.left, aud.rf.right], "partial_iters": aud.partial_iters, "full_iters": aud.iters,
        "export_iters": codec.spec.griffin_lim_iters,
        "full_ms": med(full_t), "full_p90_ms": p90(full_t), "full_cpu_ms": med(full_cpu),
        "partial_ms": med(part_t), "partial_p90_ms": p90(part_t), "partial_cpu_ms": med(part_cpu),
        "edits": edits, "lsd_median_db": statistics.median(lsd), "lsd_max_db": max(lsd),
        "lsd_export_median_db": statistics.median(lsd_export), "lsd_export_max_db": max(lsd_export),
        "identical_outside": f"{identical}/{edits}", "chain_lsd_db": chain_lsd,
        "chain_consistency_db": chain_consistency, "full_consistency_db": full_consistency,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--sound", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--edits", type=int, default=24)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the edits (default: torch's choice)")
    ap.add_argument("--audition-threads", type=int, default=1, help="torch threads for decoding (default 1, as the TUI)")
    ap.add_argument("--iters", type=int, default=None, help="the auditioner's Griffin-Lim iterations (default: the model's)")
    ap.add_argument("--no-edits", action="store_true", help="only the audition part")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sound = args.sound
    if sound is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from corpus import LMMS

        sound = LMMS / "beats" / "electro_beat01.ogg"
    load0 = os.getloadavg()[0]
    edits = [] if args.no_edits else bench_edits(args.runs)
    audition = bench_audition(args.model, sound, args.edits, max(args.runs // 5, 10), args.audition_threads, args.iters)
    load1 = os.getloadavg()[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, load average {load0:.1f} -> {load1:.1f}")
    if edits:
        print("\n| operation (8 x 1000 grid, whole grid unless noted) | do | undo | redo | do p90 |\n|---|---|---|---|---|")
    for r in edits:
        print(f"| {r['op']} | {r['do_ms']:.3f} ms | {r['undo_ms']:.3f} ms | {r['redo_ms']:.3f} ms | {r['do_p90_ms']:.3f} ms |")
    a = audition
    print(f"\naudition ({args.audition_threads} torch thread(s)) of {a['sound']} ({a['seconds']} s, grid {a['grid']}), receptive field {a['receptive_field_frames']} frames")
    print(f"full decode ({a['full_iters']} GL iters): median {a['full_ms']:.1f} ms (p90 {a['full_p90_ms']:.1f}), "
          f"CPU {a['full_cpu_ms']:.1f} ms")
    how = f"{a['full_iters']} GL iters from the full decode's initial phase" if a["partial_iters"] is None else f"{a['partial_iters']} GL iters, warm"
    print(f"partial re-decode after one cell ({how}): median {a['partial_ms']:.1f} ms "
          f"(p90 {a['partial_p90_ms']:.1f}), CPU {a['partial_cpu_ms']:.1f} ms, over {a['edits']} edits")
    print(f"partial vs full LSD: median {a['lsd_median_db']:.3f} dB, max {a['lsd_max_db']:.3f} dB; vs an export "
          f"({a['export_iters']} iters) {a['lsd_export_median_db']:.3f} / {a['lsd_export_max_db']:.3f} dB; spectrogram identical "
          f"outside the window in {a['identical_outside']}; after a chain of {a['edits']} partial updates: {a['chain_lsd_db']:.3f} dB")
    print(f"distance of the audio's spectrogram to the predicted one: chained partials {a['chain_consistency_db']:.2f} dB, "
          f"full decode {a['full_consistency_db']:.2f} dB")
    print(json.dumps({"edits": edits, "audition": audition, "load": [load0, load1], "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
