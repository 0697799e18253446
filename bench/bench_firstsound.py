"""Launch to first sound: start `distill-tui` (the bundled demo) in tmux, press space as soon as the grid shows,
and time until the sound is handed to the output.

    python bench/bench_firstsound.py --runs 3                 # this tree; cold and warm caches
    python bench/bench_firstsound.py --runs 3 --tree /work/main   # another checkout, for a before/after
    python bench/bench_firstsound.py --runs 3 --inproc        # space -> the router's play call, in one process

"Audible" here is the moment the router has the whole sound at its output: playback is forced to the file route
(`DISTILL_PLAYBACK=file`, no audio device on the bench machine), and the WAV the router writes appearing in
`$DISTILL_PLAY_DIR` is the event (on the local route the same call starts the device). Columns: "first" the title
on screen, "grid" A's codes on screen (space is pressed then), "sound" the WAV written, "space_to_sound" the
two apart. Cold = an empty `$DISTILL_CACHE` each launch; warm = one filled by a launch before that decoded A.
tmux 120x35 like bench_tui.py's start-up bench; medians of `--runs` launches.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_tui import GRID_ROW  # noqa: E402


def _screen(sock: str, name: str) -> str:
    return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", name], capture_output=True,
                          text=True).stdout


def launch(sock: str, name: str, cmd: list[str], env: dict[str, str], cwd: str, play_dir: Path,
           size: tuple[int, int] = (120, 35), timeout: float = 90.0) -> dict:
    """One launch: seconds from start to the title, the grid (then space is pressed), and the WAV written."""
    env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    play_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]),
                    "-c", cwd, *env_args, *cmd], check=True)
    seen: dict = {"first": None, "grid": None, "sound": None}
    while time.perf_counter() - t0 < timeout and seen["sound"] is None:
        now = time.perf_counter() - t0
        if seen["grid"] is None:
            screen = _screen(sock, name)
            if seen["first"] is None and "Distill" in screen:
                seen["first"] = now
            if "A: bell_c5" in screen and any(GRID_ROW.match(x) for x in screen.splitlines()):
                seen["grid"] = now
                subprocess.run(["tmux", "-L", sock, "send-keys", "-t", name, "Space"], check=True)
        elif any(p.suffix == ".wav" for p in play_dir.iterdir()):
            seen["sound"] = now
        time.sleep(0.005)
    subprocess.run(["tmux", "-L", sock, "kill-session", "-t", name], capture_output=True)
    if seen["sound"] is not None and seen["grid"] is not None:
        seen["space_to_sound"] = seen["sound"] - seen["grid"]
    return seen


def fill(cache: Path, timeout: float = 120.0) -> None:
    """Wait until a launch has written A's decode to the decoded-audio cache (a tree without one: the codes)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if any((cache / "decoded").rglob("*.npy")):
            return
        time.sleep(0.1)


def bench(runs: int, tree: Path, caches: tuple[str, ...]) -> dict:
    if shutil.which("tmux") is None:
        return {"skipped": "tmux is not installed"}
    cmd = [sys.executable, "-m", "distill_tui.cli"]
    sock = f"distill-first-{os.getpid()}"
    out: dict = {"tree": str(tree), "terminal": "tmux 120x35", "runs": runs}
    with tempfile.TemporaryDirectory() as tmp:
        base = {"PYTHONPATH": str(tree), "DISTILL_PLAYBACK": "file"}
        subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "hold", "sleep", "3600"], check=True)
        warm = Path(tmp) / "warm-cache"
        # the warm-up launch: stays open until A's decode is kept (or 60 s on a tree without the audio cache)
        env_args = [a for k, v in {**base, "DISTILL_CACHE": str(warm),
                                   "DISTILL_PLAY_DIR": str(Path(tmp) / "p0")}.items() for a in ("-e", f"{k}={v}")]
        subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "warmup", "-x", "120", "-y", "35", "-c", tmp,
                        *env_args, *cmd], check=True)
        if (tree / "distill_tui" / "audio" / "decoded_cache.py").exists():
            fill(warm, 60.0)
            time.sleep(1.0)
        else:
            time.sleep(25.0)  # the codes of the demo's sounds are kept as they are encoded
        subprocess.run(["tmux", "-L", sock, "kill-session", "-t", "warmup"], capture_output=True)
        for cache in caches:
            times = []
            for i in range(runs):
                folder = warm if cache == "warm" else Path(tmp) / f"cold-{i}"
                env = {**base, "DISTILL_CACHE": str(folder), "DISTILL_PLAY_DIR": str(Path(tmp) / f"{cache}-play-{i}")}
                times.append(launch(sock, f"{cache}{i}", cmd, env, tmp, Path(env["DISTILL_PLAY_DIR"])))
            for key in ("first", "grid", "sound", "space_to_sound"):
                got = [t[key] for t in times if t.get(key) is not None]
                out[f"{cache}_{key}_s_median"] = round(statistics.median(got), 3) if got else None
                out[f"{cache}_{key}_s_all"] = [round(x, 3) for x in got]
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    return out


INPROC = """
import asyncio, sys, time
t_start = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from test_tui_support import RecordingRouter
from distill_tui.inference.session import demo_paths
from distill_tui.tui.app import DistillApp

class TimedRouter(RecordingRouter):
    def play(self, samples, sample_rate, **kw):
        self.t = time.perf_counter()
        return super().play(samples, sample_rate, **kw)

async def main():
    model, sounds = demo_paths()
    router = TimedRouter()
    app = DistillApp(model, sounds, router=router, theme_dirs=[])
    async with app.run_test(size=(120, 35)) as pilot:
        ed = app.editor
        while ed.ws.a is None:
            await pilot.pause(0.005)
        t_grid = time.perf_counter()
        await pilot.press("space")
        while not router.played:
            await pilot.pause(0.005)
        print(router.t - t_grid, type(ed.ws.sounds[ed.ws.a].audition).__name__)
asyncio.run(main())
"""


def inproc(runs: int, tree: Path) -> dict:
    """In one process (Textual's Pilot, a stand-in router): seconds from space, pressed as soon as A's grid is
    there, to the router's `play` call; warm caches (one launch fills them first)."""
    out: dict = {"space_to_play_s_all": [], "audition": []}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(tree), "DISTILL_CACHE": str(Path(tmp) / "cache")}
        for i in range(runs + 1):
            done = subprocess.run([sys.executable, "-c", INPROC, str(ROOT / "tests")], capture_output=True,
                                  text=True, env=env, cwd=tmp, timeout=300)
            seconds, kind = done.stdout.split()[-2:]
            if i:  # the first launch fills the caches
                out["space_to_play_s_all"].append(round(float(seconds), 3))
                out["audition"].append(kind)
    out["space_to_play_s_median"] = statistics.median(out["space_to_play_s_all"])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--tree", type=Path, default=ROOT, help="the checkout to launch (PYTHONPATH); default this one")
    p.add_argument("--caches", default="warm,cold")
    p.add_argument("--inproc", action="store_true", help="space to the router's play call, in one process")
    args = p.parse_args()
    out = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.gmtime()), "cpus": os.cpu_count(),
           "load_1min": round(os.getloadavg()[0], 1)}
    if args.inproc:
        out.update(inproc(args.runs, args.tree.resolve()))
    else:
        out.update(bench(args.runs, args.tree.resolve(), tuple(args.caches.split(","))))
    out["load_1min_after"] = round(os.getloadavg()[0], 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
