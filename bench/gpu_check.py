"""One prepared run on a lent GPU machine (issue 13, item 7): Distill on CUDA, measured against the same
machine's CPU, in one command that fits a 10-minute call.

Here, on the CPU machine, once (wheels the GPU image lacks, and pads-drums-20 as real files; both ignored by git):

    bash bench/gpu_prepare.sh

Then one device `run` with `carry` [".whl", ".gpu"] and `timeout_s` 600:

    bash bench/gpu_check.sh            # installs the wheels, then: python3 bench/gpu_check.py .gpu/pd20 $OUT

Stages, in this order (about 7.5 minutes in all); each is timed, a failing stage is recorded with its error and
the next one still runs, and `OUT/gpu_check.json` is rewritten after every stage, so a run cut short still
brings back what it measured (OUT gets that, the log, a generated sound and the 5-minute run's events; the
models stay in a temporary folder, too large to come back):

1. `environment`: torch, the GPU, and what `--device auto` picks (`pick_device`);
2. `codec`: the bundled demo model on CUDA and on the CPU: encode and decode of a 4-s grid (median of 5,
   after one warm-up), and the LSD between the two decodes (the same codes: it should be near 0);
3. `step_cost`: wall ms of one stage-1 training step (batch 16, 64-frame crops, the pads-drums-20 model) on
   CUDA in float32 and bfloat16, and on the CPU at 2 torch threads (the 2-core machine's setting);
4. `prior`: `train-prior --minutes 0.5 --device cuda` on a copy of the demo, then `generate` 4 s from it;
5. `train_5min`: `train DATA --minutes 5` with no --device (the default, auto, must pick CUDA), wall clock:
   steps, steps/s, validation; then `eval` (full band at each file's own rate, the issue's figure).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distill_tui.analysis.quality import full_band_lsd  # noqa: E402
from distill_tui.audio.io import load_audio, resample  # noqa: E402
from distill_tui.config import SpectrogramConfig, adaptive_model_config  # noqa: E402
from distill_tui.data.dataset import CropSampler, scan, split  # noqa: E402
from distill_tui.inference.codec import load_codec  # noqa: E402
from distill_tui.model.vqvae import VQVAE, spectral_loss  # noqa: E402
from distill_tui.train.adamw import AdamW  # noqa: E402
from distill_tui.train.state import pick_device  # noqa: E402

DEMO = ROOT / "samples" / "demo.distill"
LOOP = "909beat01.ogg"  # a 4-s drum loop of pads-drums-20
WORK = Path(tempfile.mkdtemp(prefix="gpu_check_"))  # models and run folders; OUT brings back only the results
TRAIN_MINUTES = float(os.environ.get("GPU_CHECK_MINUTES", "5"))
# A dry run of the script itself on a CPU machine: GPU_CHECK_DEVICE=cpu GPU_CHECK_MINUTES=0.2
GPU = os.environ.get("GPU_CHECK_DEVICE", "cuda")


def cli(*args: str, timeout: float) -> dict:
    """Run `python -m distill_tui.cli ARGS`; its last JSON line (or the error) and the wall time."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "distill_tui.cli", *args], capture_output=True, text=True, timeout=timeout,
                       cwd=ROOT)
    out = {"rc": r.returncode, "wall_s": round(time.perf_counter() - t0, 2)}
    lines = [line for line in r.stdout.strip().splitlines() if line.startswith("{")]
    if lines:
        out["result"] = json.loads(lines[-1])
    if r.returncode:
        out["stderr"] = r.stderr.strip()[-2000:]
    return out


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn, device: str, runs: int = 5) -> float:
    """Median wall ms of `fn()` over `runs` calls, after one warm-up."""
    fn()
    times = []
    for _ in range(runs):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def environment(data: Path, out: Path) -> dict:
    info = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available(), "auto_picks": pick_device("auto"),
            "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return info


def codec(data: Path, out: Path) -> dict:
    loop = next(data.rglob(LOOP))
    res = {}
    decoded = {}
    for device in (GPU, "cpu"):
        torch.set_num_threads(2)
        c = load_codec(DEMO, device=device)
        original = load_audio(loop)
        x = resample(original.samples, original.sample_rate, c.spec.sample_rate)
        grid = c.encode_samples(x, name="loop")
        res[device] = {"encode_ms": timed(lambda c=c, x=x: c.encode_samples(x, name="loop"), device),
                       "decode_ms": timed(lambda c=c, g=grid: c.decode(g), device),
                       "seconds": round(len(x) / c.spec.sample_rate, 2), "positions": grid.positions}
        decoded[device] = (grid.codes, c.decode(grid).audio, c.spec.sample_rate)
    (codes_gpu, audio_gpu, rate), (codes_cpu, audio_cpu, _) = decoded[GPU], decoded["cpu"]
    res["same_codes_share"] = round(float((codes_gpu == codes_cpu).mean()), 4)
    res["lsd_cuda_vs_cpu_decode_db"] = round(full_band_lsd(audio_cpu, audio_gpu, rate), 4)
    return res


def step_cost(data: Path, out: Path) -> dict:
    spec = SpectrogramConfig(sample_rate=44100, n_fft=2048, hop_length=512)
    sampler = CropSampler(split(scan(data, spec).files, 63 * 512), spec, 64, seed=0)
    res = {}
    runs = [("cuda_float32", GPU, False, 60), ("cuda_bfloat16", GPU, True, 60), ("cpu_2_threads", "cpu", False, 12)]
    if GPU == "cpu":  # a dry run: bfloat16 is emulated (very slow) on most CPUs, and a few steps show it works
        runs = [(name, device, False, 3) for name, device, _, _ in runs]
    for name, device, bf16, steps in runs:
        torch.set_num_threads(2)
        torch.manual_seed(0)
        model = VQVAE(adaptive_model_config(20, 0.91, spec.n_bins)).to(device).train()
        opt = AdamW(model.parameters(), lr=1e-3, fused=True)

        def step(model=model, opt=opt, device=device, bf16=bf16) -> None:
            crops = sampler.crops(16)
            target = crops.db.to(device)
            with torch.autocast(device, torch.bfloat16, enabled=bf16):
                o = model(target)
            loss = spectral_loss(o.recon_db.float(), target, crops.inside) + o.quant.commit_loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        for _ in range(5):
            step()
        ms = timed(step, device, runs=steps)
        res[name] = {"ms_per_step": ms, "steps_per_s": round(1000 / ms, 2)}
    res["cuda_over_cpu"] = round(res["cuda_float32"]["steps_per_s"] / res["cpu_2_threads"]["steps_per_s"], 1)
    return res


def prior(data: Path, out: Path) -> dict:
    model = WORK / "demo_copy.distill"
    shutil.copy(DEMO, model)
    res = {"train_prior": cli("train-prior", str(model), str(ROOT / "samples" / "sounds"), "--minutes", "0.5",
                              "--device", GPU, "--json", "--quiet", timeout=150)}
    res["generate"] = cli("generate", str(model), "-o", str(out / "generated.wav"), "--seconds", "4", "--seed", "0",
                          "--json", timeout=60)
    return res


def train_5min(data: Path, out: Path) -> dict:
    model = WORK / "g5.distill"
    res = {"train": cli("train", str(data), "-o", str(model), "--minutes", f"{TRAIN_MINUTES:g}", "--seed", "2",
                        "--json", "--quiet", timeout=TRAIN_MINUTES * 60 + 120)}
    run = Path(str(model) + ".run") / "events.jsonl"
    if run.exists():
        events = [json.loads(line) for line in run.read_text().splitlines() if line.startswith("{")]
        start = next((e for e in events if e.get("event") == "start"), {})
        steps = [e["steps_per_s"] for e in events if e.get("event") == "step" and "steps_per_s" in e]
        res["device"] = start.get("device")
        res["steps_per_s_median"] = round(statistics.median(steps[1:]), 2) if len(steps) > 1 else None
        res["validation"] = [(e["step"], round(e["val_db"], 3)) for e in events if e.get("event") == "eval"]
    if model.exists():
        res["eval"] = cli("eval", str(model), str(data), "--json", timeout=180)
        shutil.copy(run, out / "g5.events.jsonl")
    return res


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    for stage in (environment, codec, step_cost, prior, train_5min):
        t0 = time.perf_counter()
        try:
            report[stage.__name__] = stage(data, out)
        except Exception as e:  # every stage is reported, whatever fails
            report[stage.__name__] = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-3000:]}
        report[stage.__name__ + "_s"] = round(time.perf_counter() - t0, 1)
        (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
        print(stage.__name__, json.dumps(report[stage.__name__])[:1500], flush=True)


if __name__ == "__main__":
    main()
