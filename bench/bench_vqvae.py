"""Stage-1 benchmarks (issue 2): quality against training time, speed, cache restart, peak memory.

    python bench/bench_vqvae.py quality --corpus pads-drums-20 --minutes 5 [--seed 0]
    python bench/bench_vqvae.py speed MODEL.distill           # encode / decode time per second of audio
    python bench/bench_vqvae.py restart --corpus pads-drums-20 [--pairs 5 --trees A B]  # command to first step, cached
    python bench/bench_vqvae.py memory --corpus mixed-200 --steps 100
    python bench/bench_vqvae.py cuda-vs-cpu --corpus pads-drums-20 --steps 200

Corpora are fixed lists (bench/corpus.py) of Debian's lmms-common samples. Each sub-benchmark prints one JSON
line; the figures go into bench/RESULTS.md by hand, with the command, machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "distill_tui.cli", *args], capture_output=True, text=True, **kw)


def events(run: Path) -> list[dict]:
    out = []
    for line in (run / "events.jsonl").read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def quality(args) -> dict:
    data = corpus.link(args.corpus, OUT / "corpora" / args.corpus)
    model = OUT / f"{args.corpus}-{args.minutes:g}{args.clock}min-seed{args.seed}{'-' + args.tag if args.tag else ''}.distill"
    run = Path(str(model) + ".run")
    if not model.exists():
        t = time.time()
        r = cli("train", str(data), "-o", str(model), "--minutes", str(args.minutes), "--seed", str(args.seed), "--json",
                "--quiet", "--clock", args.clock, *(args.extra or []))
        if r.returncode:
            raise SystemExit(r.stderr)
        wall = time.time() - t
    else:
        wall = None
    train = json.loads(r.stdout.strip().splitlines()[-1]) if wall else {}
    r = cli("eval", str(model), str(data), "--json")
    if r.returncode:
        raise SystemExit(r.stderr)
    ev = json.loads(r.stdout.strip().splitlines()[-1])
    steps = [e for e in events(run) if e["event"] == "step"]
    return {"bench": "quality", "tag": args.tag, "extra": args.extra, "corpus": args.corpus, "minutes": args.minutes, "clock": args.clock, "seed": args.seed, "wall_s": wall,
            "steps": train.get("step") or (steps[-1]["step"] if steps else None),
            "median_steps_per_s": statistics.median(e["steps_per_s"] for e in steps[1:]) if len(steps) > 2 else None,
            "healthy_at_s": next((e.get("healthy_at_s") for e in reversed(events(run)) if e["event"] == "done"), None),
            "model": ev["model"], "oracle_linear": ev["oracle_linear"], "oracle_mel": ev["oracle_mel"],
            "ratio": ev["ratio_to_linear_oracle"], "beats_mel_oracle": ev["beats_mel_oracle"], "health": ev["health"],
            "per_file": ev["per_file"]}


def speed(args) -> dict:
    import numpy as np

    from distill_tui.inference.codec import load_codec

    codec = load_codec(args.model)
    sr = codec.spec.sample_rate
    rng = np.random.default_rng(0)
    t = np.arange(4 * sr) / sr
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    enc, dec, dec_model = [], [], []
    grid = codec.encode_samples(audio)
    for _ in range(args.runs):
        t0 = time.perf_counter()
        grid = codec.encode_samples(audio)
        enc.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        codec.decode(grid)
        dec.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        codec.decode_db(grid.codes)
        dec_model.append(time.perf_counter() - t0)
    return {"bench": "speed", "model": str(args.model), "audio_s": 4.0, "runs": args.runs,
            "encode_ms_median": round(1000 * statistics.median(enc), 2),
            "decode_ms_median": round(1000 * statistics.median(dec), 2),
            "decoder_only_ms_median": round(1000 * statistics.median(dec_model), 2),
            "griffin_lim_iters": codec.spec.griffin_lim_iters}


def restart(args) -> dict:
    """Command to "start" (data read, model built), "ready" (k-means start, first checkpoint) and the first step,
    cold cache then cached; with --trees, each checkout in turn (PYTHONPATH), --pairs times, and the medians."""
    data = corpus.link(args.corpus, OUT / "corpora" / args.corpus)
    trees = args.trees or [None]
    times: dict[str, list[dict[str, float]]] = {str(t): [] for t in trees}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        for attempt in range(1 + args.pairs):  # the first fills the cache
            for tree in trees:
                model = Path(tmp) / f"m{attempt}-{len(times[str(tree)])}-{abs(hash(str(tree)))}.distill"
                env = {**os.environ, "DISTILL_CACHE": str(cache), **({"PYTHONPATH": str(tree)} if tree else {})}
                t0 = time.time()
                subprocess.run([sys.executable, "-m", "distill_tui.cli", "train", str(data), "-o", str(model), "--steps", "3",
                                "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                               cwd=tmp)  # not a checkout: `-m` would import the package from the working directory
                seen: dict[str, float] = {}
                for e in events(Path(str(model) + ".run")):
                    if e["event"] in ("start", "ready", "step"):
                        seen.setdefault(e["event"], round(e["time"] - t0, 2))
                if attempt == 0:
                    print(json.dumps({"tree": str(tree), "cold cache": seen}), file=sys.stderr)
                else:
                    times[str(tree)].append(seen)
    return {"bench": "restart", "corpus": args.corpus, "runs": times,
            "median": {t: {k: statistics.median(r[k] for r in rs) for k in ("start", "ready", "step")} for t, rs in times.items()}}


def memory(args) -> dict:
    data = corpus.link(args.corpus, OUT / "corpora" / args.corpus)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        r = cli("train", str(data), "-o", str(Path(tmp) / "m.distill"), "--steps", str(args.steps), "--json", "--quiet")
        if r.returncode:
            raise SystemExit(r.stderr)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        res = json.loads(r.stdout.strip().splitlines()[-1])
        files = next(e for e in events(Path(tmp) / "m.distill.run") if e["event"] == "start")
    return {"bench": "memory", "corpus": args.corpus, "files": files["files"], "minutes_of_audio": files["minutes"],
            "steps": res["step"], "peak_rss_mb": round(peak_mb, 1), "wall_s": round(time.time() - t0, 1)}


def cuda_vs_cpu(args) -> dict:
    data = corpus.link(args.corpus, OUT / "corpora" / args.corpus)
    out = {}
    for device in ("cpu", "cuda"):
        with tempfile.TemporaryDirectory() as tmp:
            r = cli("train", str(data), "-o", str(Path(tmp) / "m.distill"), "--steps", str(args.steps), "--device", device,
                    "--json", "--quiet")
            if r.returncode:
                out[device] = r.stderr.strip()
                continue
            steps = [e for e in events(Path(tmp) / "m.distill.run") if e["event"] == "step"]
            out[device] = statistics.median(e["steps_per_s"] for e in steps[1:])
    return {"bench": "cuda-vs-cpu", "steps_per_s": out}


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--corpus", default="pads-drums-20")
    q.add_argument("--minutes", type=float, default=5.0)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--clock", choices=["wall", "cpu"], default="cpu", help="what --minutes counts (cpu: CPU time / threads)")
    q.add_argument("--tag", default="", help="added to the model's name (to tell variants apart)")
    q.add_argument("extra", nargs="*", help="extra arguments for train (after --)")
    s = sub.add_parser("speed")
    s.add_argument("model", type=Path)
    s.add_argument("--runs", type=int, default=21)
    r = sub.add_parser("restart")
    r.add_argument("--corpus", default="pads-drums-20")
    r.add_argument("--pairs", type=int, default=1, help="cached runs of each checkout, alternated")
    r.add_argument("--trees", type=Path, nargs="*", help="checkouts to compare (default: the installed package)")
    m = sub.add_parser("memory")
    m.add_argument("--corpus", default="mixed-200")
    m.add_argument("--steps", type=int, default=100)
    c = sub.add_parser("cuda-vs-cpu")
    c.add_argument("--corpus", default="pads-drums-20")
    c.add_argument("--steps", type=int, default=200)
    args = p.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"quality": quality, "speed": speed, "restart": restart, "memory": memory, "cuda-vs-cpu": cuda_vs_cpu}[args.what](args)
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result["load_avg"] = os.getloadavg()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
