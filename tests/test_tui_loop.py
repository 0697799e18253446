"""The generate panel's Loop toggle: Generate then makes a loop (its end flows into its start)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distill_tui.inference.loops import make_loop
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.tui.app import DistillApp

from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS, RecordingRouter, aio, copy_demo, decoded, until

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")


@aio
async def test_loop_toggle_makes_generate_produce_a_loop(tmp_path: Path, monkeypatch):
    from textual.widgets import Checkbox

    from distill_tui.tui.widgets.generate_panel import GeneratePanel

    monkeypatch.chdir(tmp_path)
    demo = copy_demo(tmp_path)
    app = DistillApp(demo, [DEMO_SOUNDS / "pluck_a2.wav"], router=RecordingRouter())
    async with app.run_test(size=(110, 40)) as pilot:
        ed = app.editor
        await until(pilot, lambda: ed.engine is not None and len(ed.ws.sounds) >= 1 and decoded(ed), what="the demo")
        panel = ed.query_one(GeneratePanel)
        assert panel.request().loop is False
        box = panel.query_one("#loop", Checkbox)
        box.scroll_visible(animate=False)  # the side panel scrolls; the box may sit below its fold
        await pilot.pause()
        await pilot.click(box)
        await pilot.pause()
        assert box.value and panel.request().loop
        names = set(ed.ws.sounds)
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(ed.ws.sounds) == len(names) + 1, timeout=180, what="the generated loop")
        grid = ed.ws.grid(ed.ws.a)
        assert grid.source["loop"] is True
        await pilot.pause()
        assert ed.message.startswith("generated a loop of 2.0 s (seed ")
        # the same seed through make_loop gives the same grid: Generate made a loop, not a plain sound
        req = panel.request().settings
        settings = SamplingSettings(req.temperature, req.top_k, req.top_p, seed=grid.source["seed"])
        want = make_loop(ed.engine.prior, ed.engine.codec, grid.positions, settings).codes
        assert np.array_equal(grid.codes, want)
