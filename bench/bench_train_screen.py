"""Training screens while a real trainer runs: keystroke -> repaint, health-bar lag behind the log, attach to 100k events.

    python bench/bench_train_screen.py                 # all; --json; --minutes 2 (the trainer's budget)
    python bench/bench_train_screen.py --only attach   # no trainer: the 100,000-event attach only

Keystroke -> repaint is timed as in bench_tui.py: from posting the key to the first frame handed to the headless
driver (`App._display` wrapped). The trainer is a real `distill-tui train` started through the TUI's launcher
on a synthetic 12-file dataset (default model for that data, eval every 25 steps), so it competes for the
same two cores. Health-bar lag = when the run view showed a health event minus the event's own "time" field
(written by the trainer just before the line is flushed). A second, synthetic run floods its log with
500 step events/s and 5 health events/s to measure the lag and the repaint under a flood.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_tui import Stamped, big_grid  # noqa: E402
from distill_tui.train import launcher  # noqa: E402
from distill_tui.train.runs import pid_alive  # noqa: E402
from distill_tui.tui.app import DistillApp  # noqa: E402
from distill_tui.tui.event_feed import EventFollower  # noqa: E402
from distill_tui.tui.messages import SoundLoaded  # noqa: E402
from distill_tui.tui.screens.run_view import RunViewScreen  # noqa: E402

STEP = {"event": "step", "loss": 1.2345, "recon_db": 6.789, "commit": 0.0123, "lr": 0.001, "steps_per_s": 10.0,
        "elapsed_s": 1.0, "progress": 0.5, "batch_size": 16, "batch_utilization": [0.5, 0.5, 0.5]}
HEALTH = {"event": "health", "utilization": [0.9, 0.7, 0.5], "perplexity": [40.0, 30.0, 20.0], "dead_codes": [3, 10, 30],
          "level_gain_db": [8.0, 1.0, 0.2], "distance_db_by_levels": [9.0, 8.0, 7.8]}
CONFIG = "[train]\neval_every = 25\n"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median": round(statistics.median(values), 2) if values else None,
            "p95": round(pct(values, 0.95), 2) if values else None, "max": round(max(values), 2) if values else None}


class HealthLag:
    """Wraps the run view's health display: (event time, shown at) for each health event shown."""

    def __init__(self, view: RunViewScreen) -> None:
        self.since = time.time()  # events written before the attach are history, not lag
        self.lags: list[float] = []
        original = view._show_health  # noqa: SLF001

        def show(health: dict) -> None:
            original(health)
            if health.get("time") and float(health["time"]) >= self.since:
                self.lags.append(1000 * (time.time() - float(health["time"])))

        view._show_health = show  # type: ignore[method-assign]  # noqa: SLF001


async def press_and_time(pilot, stamps: Stamped, keys: list[str], n: int, gap: float = 0.0) -> list[float]:  # noqa: ANN001
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        await pilot.press(keys[i % len(keys)])
        t1 = stamps.first_after(t0)
        if t1 is not None:
            out.append(1000 * (t1 - t0))
        if gap:
            await pilot.pause(gap)
    return out


def flood(run_dir: Path, seconds: float, stop: threading.Event) -> None:
    """500 step events/s and 5 health events/s, each line flushed as the trainer does."""
    path = run_dir / "events.jsonl"
    with path.open("a") as fh:
        fh.write(json.dumps({"event": "start", "time": time.time(), "step": 0,
                             "model": {"levels": 3, "codebook_sizes": [64, 64, 64]}}) + "\n")
        fh.flush()
        step, t_end = 0, time.time() + seconds
        while time.time() < t_end and not stop.is_set():
            for _ in range(10):
                step += 1
                fh.write(json.dumps({**STEP, "time": round(time.time(), 3), "step": step}) + "\n")
                fh.flush()
            if step % 100 == 0:
                fh.write(json.dumps({**HEALTH, "time": round(time.time(), 3), "step": step}) + "\n")
                fh.flush()
            time.sleep(0.02)


async def bench_live(tmp: Path, minutes: float, attach: Path | None = None, health_wait: float = 40.0) -> dict:
    if attach is None:
        from tests.conftest import write_dataset

        data = write_dataset(tmp / "sounds", n=12)
        (tmp / "bench.toml").write_text(CONFIG)
        spec = launcher.TrainSpec(data_dir=data, output=tmp / "bench.distill", run_dir=tmp / "runs" / "live",
                                  minutes=minutes, device="cpu", config=tmp / "bench.toml", seed=0)
        started = launcher.launch(spec)
    else:  # someone else's trainer: only read its log, never stop it
        pid = int((attach / "trainer.pid").read_text()) if (attach / "trainer.pid").exists() else None
        started = launcher.Launched(pid or 0, attach, None)
    result: dict = {"trainer": "attached to " + str(attach) if attach else "launched"}
    app = DistillApp(None, [])
    try:
        async with app.run_test(size=(120, 32)) as pilot:
            stamps = Stamped(app)
            view = RunViewScreen(started.run_dir)
            view.process = started.process
            lag = HealthLag(view)
            app.push_screen(view)
            t0 = time.time()
            while attach is None and "ready" not in view.last and time.time() - t0 < 300:
                await pilot.pause(0.2)
            await pilot.pause(1.0)
            result["trainer_ready_s"] = round(time.time() - t0, 1)
            # the run view while the trainer trains: 'v' switches the curves between recent and all steps
            run_keys = await press_and_time(pilot, stamps, ["v"], 100, gap=0.05)
            # the editor (8 x 1000 grid) while the trainer trains
            app.pop_screen()
            app.editor.post_message(SoundLoaded(big_grid()))
            await pilot.pause(0.3)
            moves = ["l"] * 40 + ["j", "j", "k", "k"] + ["h"] * 40 + ["w", "w", "b", "b"]
            editor_keys = await press_and_time(pilot, stamps, moves, 200)
            app.push_screen(view)
            lag.since = time.time()  # mounted again: the new feed re-reads the tail (history, not lag)
            t1 = time.time()
            while time.time() - t1 < health_wait and len(lag.lags) < 4:  # a few real health events
                await pilot.pause(0.2)
            result["trainer_alive"] = pid_alive(started.pid) if started.pid else "unknown (no pid file)"
            result["run_view_keys_ms"] = summary(run_keys)
            result["editor_keys_ms"] = summary(editor_keys)
            result["health_lag_real_ms"] = summary(lag.lags)
            result["trainer_steps_seen"] = view.step

            # a flood of events in another run, the real trainer still running
            fdir = tmp / "runs" / "flood"
            fdir.mkdir(parents=True)
            stop = threading.Event()
            writer = threading.Thread(target=flood, args=(fdir, 30.0, stop), daemon=True)
            writer.start()
            fview = RunViewScreen(fdir)
            flag = HealthLag(fview)
            app.switch_screen(fview)
            await pilot.pause(1.0)
            flood_keys = await press_and_time(pilot, stamps, ["v"], 100, gap=0.05)
            await pilot.pause(2.0)
            stop.set()
            writer.join()
            await pilot.pause(0.5)
            result["flood_keys_ms"] = summary(flood_keys)
            result["health_lag_flood_ms"] = summary(flag.lags)
            result["flood_events_shown"] = fview.events_seen
    finally:
        if attach is None:
            launcher.stop(started.run_dir)
            for _ in range(300):
                if started.process.poll() is not None:
                    break
                time.sleep(0.1)
    return result


async def bench_attach(tmp: Path, events: int = 100_000) -> dict:
    run = tmp / "runs" / "big"
    run.mkdir(parents=True)
    with (run / "events.jsonl").open("w") as fh:
        fh.write(json.dumps({"event": "start", "time": 0, "step": 0, "model": {"levels": 3, "codebook_sizes": [64] * 3}}) + "\n")
        for i in range(events):
            fh.write(json.dumps({**STEP, "time": i, "step": i + 1}) + "\n")
            if (i + 1) % 200 == 0:
                fh.write(json.dumps({**HEALTH, "time": i, "step": i + 1}) + "\n")
    size = (run / "events.jsonl").stat().st_size
    reads = []
    for _ in range(5):
        t0 = time.perf_counter()
        EventFollower(run / "events.jsonl").poll()
        reads.append(1000 * (time.perf_counter() - t0))
    app = DistillApp(None, [])
    shown = []
    async with app.run_test(size=(120, 32)) as pilot:
        for _ in range(3):
            t0 = time.perf_counter()
            view = RunViewScreen(run)
            app.push_screen(view)
            while view.step < events:
                await pilot.pause(0.005)
            await pilot.pause(0)
            shown.append(1000 * (time.perf_counter() - t0))
            app.pop_screen()
            await pilot.pause(0.1)
    return {"log_mb": round(size / 1e6, 1), "events": events, "tail_read_ms": summary(reads),
            "attach_to_last_step_shown_ms": summary(shown)}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["live", "attach"])
    ap.add_argument("--minutes", type=float, default=2.0, help="the trainer's budget")
    ap.add_argument("--attach", type=Path, help="watch this running run folder instead of starting a trainer")
    ap.add_argument("--health-wait", type=float, default=40.0, help="seconds to wait for real health events")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out: dict = {"load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ.setdefault("DISTILL_CACHE", str(tmp / "cache"))
        if args.only in (None, "attach"):
            out["attach"] = await bench_attach(tmp)
        if args.only in (None, "live"):
            out["live"] = await bench_live(tmp, args.minutes, args.attach, args.health_wait)
    out["load_after"] = os.getloadavg()[0]
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
