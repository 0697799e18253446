"""How long the train -> edit hand-off takes: `o` on a finished run's view, to the first training sound on the grid,
to it decoded, and to every opened training sound (up to run_view.HANDOFF_SOUNDS) loaded. A Textual pilot
(headless), the editor starting empty; the run folder is made here around MODEL and FOLDER.

    python bench/handoff_time.py MODEL.distill FOLDER [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_tui.tui.app import DistillApp  # noqa: E402
from distill_tui.tui.screens.run_view import HANDOFF_SOUNDS, RunViewScreen, training_sounds  # noqa: E402
from tests.test_tui_support import RecordingRouter, decoded  # noqa: E402


async def until(pilot, condition, timeout: float = 600.0) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    while not condition():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError
        await pilot.pause(0.01)
    return time.perf_counter()


async def one(model: Path, folder: Path, work: Path) -> dict[str, float]:
    out = work / "new.distill"
    shutil.copy(model, out)
    run = work / "new.run"
    run.mkdir()
    events = [{"event": "start", "step": 0, "time": 1.0}, {"event": "done", "step": 1, "time": 2.0, "output": str(out)}]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run / "run.json").write_text(json.dumps({"data_dir": str(folder), "output": str(out)}))
    expected = min(len(training_sounds(folder)), HANDOFF_SOUNDS)
    app = DistillApp(None, [], router=RecordingRouter())
    async with app.run_test(size=(120, 36)) as pilot:
        view = RunViewScreen(run)
        app.push_screen(view)
        await until(pilot, lambda: view.state == "finished")
        editor = app.editor
        t0 = time.perf_counter()
        await pilot.press("o")
        first = await until(pilot, lambda: editor.ws.a is not None and editor.grid.doc is not None)
        heard = await until(pilot, lambda: decoded(editor))
        every = await until(pilot, lambda: len(editor.ws.sounds) == expected)
    return {"first sound on the grid": first - t0, "first sound decoded": heard - t0,
            f"all {expected} sounds loaded": every - t0}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    rows: dict[str, list[float]] = {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            for key, value in asyncio.run(one(args.model, args.folder, Path(tmp))).items():
                rows.setdefault(key, []).append(value)
    for key, values in rows.items():
        print(f"{key}: median {statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f}, {len(values)} runs)")


if __name__ == "__main__":
    main()
