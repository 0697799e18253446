"""Sharper time: grid stride and STFT hop measured by onset error on drum loops and hits (issue 13, part 3).

    python bench/bench_onsets.py train   [--data /tmp/pd20] [--out /tmp/onsets] [--minutes 3] [--seed 2] [--only NAME]
    python bench/bench_onsets.py measure [--data /tmp/pd20] [--out /tmp/onsets] [--only NAME] [--extra NAME=MODEL]
    python bench/bench_onsets.py speed   [--out /tmp/onsets]
    python bench/bench_onsets.py table   [--out /tmp/onsets]

`train` trains one model per setting with the CLI (`train DATA -o OUT/NAME.distill --minutes M --clock cpu --seed S
--json --quiet`, plus the setting's flags or config file) and keeps each run's JSON line in OUT/NAME.json.
`measure` decodes every file of DATA with each model as `eval` does and keeps, per setting (OUT/rows_NAME.json):
the median onset error on the drum loops (files under beats/) and on the hits (files under drums/)
(`analysis/onsets.py`), the mean full-band LSD (`eval`'s `lsd_db`; no oracles), grid columns per second, the
prior's sequence length for 4 s (columns x levels), training steps per second (steps / CPU-clock seconds, from the
model file) and the CPU-clock time to decode 4 s (decoder + Griffin-Lim, median of 3). `speed` times the decode
again on one thread (median of 5), the figure the table shows. `table` prints every row kept as a Markdown table
and one JSON line (`measure` and `speed` do too).

Settings (44.1 kHz, the folder's rate): "default" (stride 4, n_fft 2048, hop 512: a column is 46 ms), "stride2"
(`--stride 2`: 23 ms), "hop256" (n_fft 2048, hop 256, crop_frames 128 so a crop still lasts 0.74 s; stride 4:
23 ms) and "s2h256" (both: 11.6 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_tui.analysis.evaluate import model_reconstructor  # noqa: E402
from distill_tui.analysis.onsets import onset_error  # noqa: E402
from distill_tui.analysis.quality import full_band_pair, log_spectral_distance  # noqa: E402
from distill_tui.data.dataset import load_named_audio, scan  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.persistence.model_file import read_document  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOP256 = "[spectrogram]\nsample_rate = 44100\nn_fft = 2048\nhop_length = 256\n\n[train]\ncrop_frames = 128\n"
SETTINGS: dict[str, tuple[list[str], str | None]] = {  # name -> (CLI flags, config file text)
    "default": ([], None),
    "stride2": (["--stride", "2"], None),
    "hop256": ([], HOP256),
    "s2h256": (["--stride", "2"], HOP256),
}


def train(args: argparse.Namespace) -> None:
    """Train each setting in turn (skipping those already trained), keeping each run's JSON."""
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (flags, config) in SETTINGS.items():
        if args.only and name not in args.only:
            continue
        model, record = args.out / f"{name}.distill", args.out / f"{name}.json"
        if record.exists():
            continue
        cmd = [sys.executable, "-m", "distill_tui.cli", "train", str(args.data), "-o", str(model),
               "--minutes", str(args.minutes), "--clock", "cpu", "--seed", str(args.seed), "--json", "--quiet", *flags]
        if config is not None:
            cfg = args.out / f"{name}.toml"
            cfg.write_text(config)
            cmd += ["--config", str(cfg)]
        t0 = time.time()
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if res.returncode != 0:
            print(f"{name}: exit {res.returncode}\n{res.stderr[-2000:]}", file=sys.stderr)
            continue
        out = json.loads(res.stdout.strip().splitlines()[-1])
        out.update(command=" ".join(cmd[1:]), wall_s=round(time.time() - t0, 1), load=os.getloadavg()[0])
        record.write_text(json.dumps(out))
        print(f"{name}: step {out['step']} in {out['seconds']} s (wall {out['wall_s']} s)", flush=True)


def cpu_clock() -> float:
    """This process's CPU seconds over torch's threads: wall time on an idle machine, as `train --clock cpu`
    counts (`train/state.make_clock`); the machine is shared, so wall time would measure the neighbours."""
    return time.process_time() / max(torch.get_num_threads(), 1)


def decode_ms(codec, seconds: float = 4.0, repeats: int = 3) -> float:
    """Median CPU-clock milliseconds to decode `seconds` of a tone-and-clicks sound (decoder + Griffin-Lim)."""
    sr = codec.spec.sample_rate
    t = np.arange(int(seconds * sr)) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t) + (np.arange(len(t)) % (sr // 4) < 200) * 0.5).astype(np.float32)
    grid = codec.encode_samples(x)
    times = []
    for _ in range(repeats):
        t0 = cpu_clock()
        codec.decode(grid)
        times.append(1000 * (cpu_clock() - t0))
    return statistics.median(times)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def per_file(codec, data: Path) -> list[dict]:
    """Each file of `data` decoded as `eval` decodes it, scored as `eval` scores it (full-band LSD, onset error at
    the scoring rate); the band-limited figures and the other metrics, which `eval` also computes, are left out
    to save CPU time."""
    spec = codec.spec
    reconstruct = model_reconstructor(codec.model, spec)
    rows = []
    for f in scan(data, spec).files:
        own = load_named_audio(f.path, None)
        ref, est, rate = full_band_pair(own.samples, own.sample_rate, reconstruct(f), spec.sample_rate)
        err = onset_error(ref, est, rate)
        rows.append({"path": str(f.path), "lsd_db": round(log_spectral_distance(ref, est, rate), 3),
                     "onsets": err.original, "onset_ms": None if err.median_ms is None else round(err.median_ms, 2),
                     "onset_hits": round(err.hits, 3), "mean_signed_ms": err.mean_signed_ms and round(err.mean_signed_ms, 2)})
    return rows


def measure_model(name: str, path: Path, data: Path) -> dict:
    """One setting's row: onset errors by kind, full-band LSD, grid and prior sizes, speeds (training steps and
    seconds from the model file's document)."""
    codec = load_codec(path)
    training = read_document(path).training
    spec, cfg = codec.spec, codec.cfg
    files = per_file(codec, data)
    loops = [f["onset_ms"] for f in files if "/beats/" in f["path"] and f["onset_ms"] is not None]
    hits = [f["onset_ms"] for f in files if "/drums/" in f["path"] and f["onset_ms"] is not None]
    columns_per_s = spec.sample_rate / (spec.hop_length * cfg.stride)
    row = {"setting": name, "model": str(path), "sample_rate": spec.sample_rate, "n_fft": spec.n_fft,
           "hop": spec.hop_length, "stride": cfg.stride, "levels": cfg.levels,
           "column_ms": round(1000 / columns_per_s, 1), "columns_per_s": round(columns_per_s, 2),
           "prior_tokens_4s": int(np.ceil(4 * columns_per_s)) * cfg.levels,
           "loops_onset_ms": _median(loops), "loops_per_file": [round(v, 2) for v in loops],
           "hits_onset_ms": _median(hits), "hits_per_file": [round(v, 2) for v in hits],
           "loop_hits_share": _median([f["onset_hits"] for f in files if "/beats/" in f["path"]]),
           "lsd_db": round(statistics.fmean(f["lsd_db"] for f in files), 3), "decode_4s_ms": round(decode_ms(codec), 1),
           "files": files}
    if training.steps and training.seconds:
        row.update(steps=training.steps, train_s=round(training.seconds, 1),
                   steps_per_s=round(training.steps / training.seconds, 2))
    return row


def measure(args: argparse.Namespace) -> None:
    """Measure each trained setting (or those in --only) and each --extra model, keeping each row in
    OUT/rows_NAME.json; then print the table of every row kept."""
    torch.set_num_threads(args.threads)
    models = {name: args.out / f"{name}.distill" for name in SETTINGS
              if (args.out / f"{name}.distill").exists() and (not args.only or name in args.only)}
    for item in args.extra:
        name, _, path = item.partition("=")
        models[name] = Path(path)
    for name, path in models.items():
        row = measure_model(name, path, args.data)
        (args.out / f"rows_{name}.json").write_text(json.dumps({**row, "load": os.getloadavg()[0]}))
    table(args)


def speed(args: argparse.Namespace) -> None:
    """Decode time for 4 s on one thread (CPU clock; with two, the idle thread's spinning counts as CPU time on a
    busy machine), written into each setting's row."""
    torch.set_num_threads(1)
    for path in sorted(args.out.glob("rows_*.json")):
        row = json.loads(path.read_text())
        row["decode_4s_ms_1thread"] = round(decode_ms(load_codec(row["model"]), repeats=5), 1)
        path.write_text(json.dumps(row))
    table(args)


def table(args: argparse.Namespace) -> None:
    """The Markdown table and one JSON line of every row measured in OUT."""
    rows = [json.loads(p.read_text()) for p in sorted(args.out.glob("rows_*.json"))]
    print("| setting | column ms | columns/s | prior tokens, 4 s | loops onset ms | hits onset ms | LSD dB | "
          "steps/s | steps | decode 4 s ms, 1 thread |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} (stride {r['stride']}, {r['n_fft']}/{r['hop']}) | {r['column_ms']} | {r['columns_per_s']} "
              f"| {r['prior_tokens_4s']} | {r['loops_onset_ms']} | {r['hits_onset_ms']} | {r['lsd_db']} "
              f"| {r.get('steps_per_s', '-')} | {r.get('steps', '-')} | {r.get('decode_4s_ms_1thread', '-')} |")
    print(json.dumps({"rows": rows, "machine": platform.machine(), "threads": args.threads}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=["train", "measure", "speed", "table"])
    ap.add_argument("--data", type=Path, default=Path("/tmp/pd20"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/onsets"))
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None, help="train (or measure) only these settings")
    ap.add_argument("--extra", nargs="*", default=[], help="NAME=MODEL.distill: also measure these models")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    {"train": train, "measure": measure, "speed": speed, "table": table}[args.stage](args)


if __name__ == "__main__":
    main()
