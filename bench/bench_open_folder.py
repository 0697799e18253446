"""Opening a folder of sounds in the editor: launch to each count of open sounds (headless pilot, empty caches).

    python bench/bench_open_folder.py MODEL FOLDER [--limit N] [--json]

Starts `DistillApp(MODEL, every audio file under FOLDER)` with an empty codes cache and decoded-audio cache (a
fresh $DISTILL_CACHE), as `distill-tui open MODEL FOLDER` does on a first visit, and prints the seconds from the
app's start to the first sound open, to a quarter, half and three quarters of them, and to all of them (the
failed ones counted as arrived). The model loads in its worker, each sound is encoded in another; the interface
redraws in between, so its cost is part of the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def run(model: Path, files: list[Path]) -> dict[str, float]:
    from distill_tui.tui.app import DistillApp

    sys.path.insert(0, str(ROOT))
    from tests.test_tui_support import RecordingRouter

    app = DistillApp(model, files, router=RecordingRouter())
    marks: dict[str, float] = {}
    goals = {"first": 1, "quarter": len(files) // 4, "half": len(files) // 2, "three_quarters": 3 * len(files) // 4}
    t0 = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        ed = app.editor
        while time.perf_counter() - t0 < 1800:
            await pilot.pause(0.05)
            arrived = ed.opening.total - len(ed.opening.pending)
            for name, goal in goals.items():
                if name not in marks and arrived >= max(goal, 1):
                    marks[name] = time.perf_counter() - t0
            if not ed.opening.pending:
                marks["all"] = time.perf_counter() - t0
                break
        marks["open"] = len(ed.ws.sounds)
    return marks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--limit", type=int, default=None, help="open only the first N files")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ["DISTILL_CACHE"] = tempfile.mkdtemp(prefix="distill-bench-cache-")
    from distill_tui.data.audio_files import find_audio

    files = find_audio(args.folder)[: args.limit]
    marks = asyncio.run(run(args.model, files))
    out = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "cpus": os.cpu_count(),
           "load_1min": os.getloadavg()[0], "files": len(files), **{k: round(v, 2) for k, v in marks.items()}}
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
