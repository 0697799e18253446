"""TUI latency: keystroke -> repaint on an 8 x 1000 grid (pilot), edit -> hearing (partial re-decode), command -> first frame (tmux).

    python bench/bench_tui.py                 # all three; --only keys|hear|start; --json
    python bench/bench_tui.py --only start --runs 5

Keystroke -> repaint is the time from posting a key event to the app handing the repainted frame to
its (headless) driver, measured by wrapping `App._display`. Edit -> hearing is the time from posting
the second hex digit of an edit to the moment the re-decoded audio of that edit is stored in the
editor, ready for space to play it (the bundled demo model; the audio device itself is not timed). Command -> first frame starts `distill-tui` in a tmux
pane and polls `capture-pane` until the title line shows; "grid" waits for the demo's codes on screen, "decoded"
for its spectrogram; each with a cold codes cache ($DISTILL_CACHE empty) and a warm one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distill_tui.codes.grid import CodeGrid  # noqa: E402
from distill_tui.tui.app import DistillApp  # noqa: E402
from distill_tui.tui.messages import SoundLoaded  # noqa: E402


def big_grid(levels: int = 8, positions: int = 1000, k: int = 64) -> CodeGrid:
    rng = np.random.default_rng(0)
    return CodeGrid(codes=rng.integers(0, k, (levels, positions)), model_fingerprint="bench", codebook_sizes=[k] * levels,
                    sample_rate=22050, hop_length=256, stride=4, name="bench")


class Stamped:
    """Records when frames reach the driver."""

    def __init__(self, app: DistillApp) -> None:
        self.times: list[float] = []
        original = app._display  # noqa: SLF001 - the one place every frame passes through

        def display(screen, renderable) -> None:  # noqa: ANN001
            original(screen, renderable)
            if renderable is not None:
                self.times.append(time.perf_counter())

        app._display = display  # type: ignore[method-assign]  # noqa: SLF001

    def first_after(self, t0: float) -> float | None:
        return next((t for t in self.times if t >= t0), None)


async def bench_keys(presses: int = 200) -> dict:
    app = DistillApp(None, [])
    async with app.run_test(size=(120, 30)) as pilot:
        stamps = Stamped(app)
        editor = app.editor
        editor.post_message(SoundLoaded(big_grid()))
        await pilot.pause(0.3)
        move, type_ = [], []
        keys = ["l"] * 40 + ["j", "j", "k", "k"] + ["h"] * 40 + ["w", "w", "b", "b"]
        for i in range(presses):
            key = keys[i % len(keys)]
            t0 = time.perf_counter()
            await pilot.press(key)
            t1 = stamps.first_after(t0)
            if t1 is not None:
                move.append(1000 * (t1 - t0))
        await pilot.press("i")
        for i in range(presses // 2):
            await pilot.press("1")
            t0 = time.perf_counter()
            await pilot.press("f" if i % 2 else "0")  # the second digit writes the cell and advances
            t1 = stamps.first_after(t0)
            if t1 is not None:
                type_.append(1000 * (t1 - t0))
        await pilot.press("escape")
    return {"grid": "8 levels x 1000 positions", "size": "120x30",
            "move_ms_median": statistics.median(move), "move_ms_p90": float(np.percentile(move, 90)), "moves": len(move),
            "overwrite_ms_median": statistics.median(type_), "overwrite_ms_p90": float(np.percentile(type_, 90)),
            "overwrites": len(type_)}


async def bench_hear(edits: int = 20) -> dict:
    model = ROOT / "samples" / "demo.distill"
    sound = ROOT / "samples" / "sounds" / "pad_am.wav"
    app = DistillApp(model, [sound])
    latencies, engine_ms, repaint = [], [], []
    async with app.run_test(size=(120, 30)) as pilot:
        stamps = Stamped(app)
        editor = app.editor
        stored: dict[int, float] = {}
        original_store = editor._store_audition  # noqa: SLF001

        def store(name, audition, version) -> None:  # noqa: ANN001
            original_store(name, audition, version)
            stored.setdefault(version, time.perf_counter())

        editor._store_audition = store  # type: ignore[method-assign]  # noqa: SLF001
        for _ in range(600):
            await pilot.pause(0.05)
            name = editor.ws.a
            if name and editor.ws.sounds[name].audition is not None:
                break
        name = editor.ws.a
        assert name is not None, "the demo sound did not load"
        sound_state = editor.ws.sounds[name]
        await pilot.press("j", "1", "0", "l", "i")
        for i in range(edits):
            await pilot.press("3")
            t0 = time.perf_counter()
            await pilot.press("a" if i % 2 else "0")
            target = sound_state.version
            while sound_state.decoded_version < target:
                await asyncio.sleep(0.001)
            latencies.append(1000 * (min(t for v, t in stored.items() if v >= target) - t0))
            t1 = stamps.first_after(t0)
            if t1 is not None:
                repaint.append(1000 * (t1 - t0))
            engine_ms.append(1000 * sound_state.audition.seconds)
            assert sound_state.audition.partial
            await pilot.press("left")  # edit the same spot again
        await pilot.press("escape")
    return {"model": "samples/demo.distill", "sound": "pad_am.wav (2.5 s)",
            "overwrite_repaint_ms_median": statistics.median(repaint) if repaint else None,
            "edit_to_audio_ms_median": statistics.median(latencies),
            "edit_to_audio_ms_p90": float(np.percentile(latencies, 90)), "partial_decode_ms_median": statistics.median(engine_ms),
            "edits": len(latencies)}


GRID_ROW = re.compile(r"^ 1 .{10}([0-9a-f]{2} ){8}")  # level 1's row with codes in it, whatever its label


def _launch_times(sock: str, name: str, cmd: list[str], env: dict[str, str], cwd: str, size: tuple[int, int]) -> dict:
    """Start `cmd` in a fresh tmux pane; seconds until the title, the demo's codes and its spectrogram show."""
    env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]),
                    "-c", cwd, *env_args, *cmd], check=True)
    seen: dict = {"first": None, "grid": None, "decoded": None}
    while time.perf_counter() - t0 < 90 and seen["decoded"] is None:
        screen = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", name], capture_output=True,
                                text=True).stdout
        now = time.perf_counter() - t0
        if seen["first"] is None and "Distill" in screen:
            seen["first"] = now
        if seen["grid"] is None and "A: bell_c5" in screen and any(GRID_ROW.match(x) for x in screen.splitlines()):
            seen["grid"] = now
        if seen["grid"] is not None and "▀▀▀▀" in screen:  # the spectrogram strip: A decoded
            seen["decoded"] = now
        time.sleep(0.005)
    subprocess.run(["tmux", "-L", sock, "kill-session", "-t", name], capture_output=True)
    return seen


def bench_start(runs: int = 5, width: int = 120, height: int = 35, exe: str | None = None,
                caches: tuple[str, ...] = ("cold", "warm")) -> dict:
    """Launch to first frame, to the demo's grid, and to its decode; with a cold codes cache (an empty folder
    each launch) and a warm one (a folder filled by one launch before). Runs this tree (PYTHONPATH) unless
    `exe` names an installed `distill-tui`."""
    if shutil.which("tmux") is None:
        return {"skipped": "tmux is not installed"}
    cmd = exe.split() if exe else [sys.executable, "-m", "distill_tui.cli"]
    base_env = {} if exe else {"PYTHONPATH": str(ROOT)}
    sock = f"distill-bench-{os.getpid()}"
    out: dict = {"command": " ".join(cmd), "terminal": f"tmux {width}x{height}", "runs": runs}
    with tempfile.TemporaryDirectory() as tmp:
        # a session that outlives each launch's, so the server never exits between launches
        subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "hold", "sleep", "3600"], check=True)
        warm_cache = Path(tmp) / "warm-cache"
        _launch_times(sock, "warmup", cmd, {**base_env, "DISTILL_CACHE": str(warm_cache)}, tmp, (width, height))
        for cache in caches:
            times = []
            for i in range(runs):
                folder = warm_cache if cache == "warm" else Path(tmp) / f"cold-{i}"
                times.append(_launch_times(sock, f"{cache}{i}", cmd, {**base_env, "DISTILL_CACHE": str(folder)}, tmp,
                                           (width, height)))
            for key in ("first", "grid", "decoded"):
                got = [t[key] for t in times if t[key] is not None]
                out[f"{cache}_{key}_s_median"] = statistics.median(got) if got else None
                out[f"{cache}_{key}_s_all"] = [round(x, 3) for x in got]
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["keys", "hear", "start"])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.add_argument("--caches", default="cold,warm", help="which codes caches to launch with: cold, warm or both")
    p.add_argument("--exe", help="an installed distill-tui to launch (default: this tree, via PYTHONPATH)")
    args = p.parse_args()
    out: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
                 "load_1min": os.getloadavg()[0]}
    if args.only in (None, "start"):
        out["start"] = bench_start(args.runs, exe=args.exe, caches=tuple(args.caches.split(",")))
    if args.only in (None, "keys"):
        out["keys"] = asyncio.run(bench_keys())
    if args.only in (None, "hear"):
        out["hear"] = asyncio.run(bench_hear())
    print(json.dumps(out, indent=None if args.json else 2, default=float))


if __name__ == "__main__":
    main()
