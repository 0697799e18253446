"""Listening latency over a loopback "tunnel": play request -> first sample sent, and receipt -> playback start.

    python bench/bench_listen.py [--runs 25] [--seconds 4] [--json]

The listener runs as `distill-tui listen --no-play` in its own process, as it would on the user's machine; the
sender side is the Router a remote TUI uses (route decided once, like a running app). Receipt -> playback start
is what the listener logs for each clip: from its last byte arriving to the moment it would hand the audio to
the device. A second, in-process listener gives the whole-transfer view (header arrival -> playback start).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from distill_tui.playback.remote import Listener
from distill_tui.playback.routing import Router

SR = 22050
TOKEN = "bench-token-0123456789abcdef"


def clip(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(0)
    return (0.4 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def summary(values_s: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values_s)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 3),
        "max_ms": round(ms[-1], 3),
        "runs": len(ms),
    }


def router_for(port: int, tmp: Path) -> Router:
    env = {
        "SSH_CONNECTION": "10.0.0.2 50000 10.0.0.1 22",  # a remote session: the listener route
        "DISTILL_LISTEN": f"127.0.0.1:{port}",
        "DISTILL_LISTEN_TOKEN": TOKEN,
        "DISTILL_CONFIG": str(tmp / "absent.toml"),
        "DISTILL_PLAY_DIR": str(tmp / "played"),
    }
    return Router(env)


def bench_subprocess(samples: np.ndarray, runs: int, tmp: Path) -> dict[str, object]:
    log = tmp / "listener.txt"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "distill_tui.cli", "listen", "--port", "0", "--token", TOKEN, "--no-play"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read_text())):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the listener did not start: {log.read_text()}")
            time.sleep(0.05)
        router = router_for(int(match.group(1)), tmp)
        cold = router.play(samples, SR, name="cold")  # includes deciding the route
        assert cold.route == "listener", cold.message
        for i in range(3):
            router.play(samples, SR, name=f"warmup{i}")
        first = []
        for i in range(runs):
            result = router.play(samples, SR, name=f"run{i}")
            assert result.route == "listener", result.message
            first.append(result.first_sample_s)
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while len(handoffs := re.findall(r"run\d+, .*playing ([\d.]+) ms after receipt", log.read_text())) < runs:
            if time.monotonic() > deadline:
                raise SystemExit(f"the listener logged {len(handoffs)} of {runs} clips")
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "request_to_first_sample_sent": summary(first),
        "request_to_first_sample_sent_cold_ms": round(cold.first_sample_s * 1000, 3),
        "listener_receipt_to_playback_start": summary([float(h) / 1000 for h in handoffs]),
    }


def bench_in_process(samples: np.ndarray, runs: int, tmp: Path) -> dict[str, object]:
    events = []
    listener = Listener(TOKEN, port=0, on_clip=lambda c: None, on_event=events.append, log=lambda s: None)
    listener.bind()
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    try:
        router = router_for(listener.port, tmp)
        for i in range(runs + 3):
            router.play(samples, SR, name=f"run{i}")
    finally:
        listener.close()
        thread.join(timeout=5)
    events = events[3:]
    return {
        "header_arrival_to_playback_start": summary([e.playing_at - e.first_byte_at for e in events]),
        "last_byte_to_playback_start": summary([e.handoff_s for e in events]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    samples = clip(args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "clip": {"seconds": args.seconds, "sample_rate": SR, "channels": 1, "wire": "float32",
                     "payload_bytes": samples.nbytes},  # fmt: skip
            "separate_process_listener": bench_subprocess(samples, args.runs, Path(tmp)),
            "in_process_listener": bench_in_process(samples, args.runs, Path(tmp)),
        }
    if args.json:
        print(json.dumps(results))
    else:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
