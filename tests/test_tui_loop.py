"""The generate panel's Loop toggle: Generate then makes a loop (its end flows into its start)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from distill_tui.inference.loops import make_loop
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.tui.app import DistillApp

from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS, RecordingRouter, aio, copy_demo, decoded, until

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")


@contextlib.asynccontextmanager
async def demo_editor(tmp_path: Path, monkeypatch, sound: str) -> AsyncIterator[tuple]:  # noqa: ANN001
    """The editor on a copy of the demo with one of its sounds, decoded: yields (pilot, editor)."""
    monkeypatch.chdir(tmp_path)
    app = DistillApp(copy_demo(tmp_path), [DEMO_SOUNDS / sound], router=RecordingRouter())
    async with app.run_test(size=(110, 40)) as pilot:
        ed = app.editor
        await until(pilot, lambda: ed.engine is not None and len(ed.ws.sounds) >= 1 and decoded(ed), what="the demo")
        yield pilot, ed


@aio
async def test_loop_toggle_makes_generate_produce_a_loop(tmp_path: Path, monkeypatch):
    from textual.widgets import Checkbox

    from distill_tui.tui.widgets.generate_panel import GeneratePanel

    async with demo_editor(tmp_path, monkeypatch, "pluck_a2.wav") as (pilot, ed):
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


@aio
async def test_one_shot_toggle_makes_generate_start_and_end_in_silence(tmp_path: Path, monkeypatch):
    """Issue 14's one-shots in the editor (they were only in `generate --one-shot`): the One-shot box makes Generate
    draw a sound that starts from silence and ends in it, as `Prior.one_shot` does; it and Loop exclude each other."""
    from textual.widgets import Checkbox

    from distill_tui.inference.generate import silence_column
    from distill_tui.tui.widgets.generate_panel import GeneratePanel

    async with demo_editor(tmp_path, monkeypatch, "kick_deep.wav") as (pilot, ed):
        panel = ed.query_one(GeneratePanel)
        loop, one_shot = panel.query_one("#loop", Checkbox), panel.query_one("#one-shot", Checkbox)
        loop.value = True
        await pilot.pause()
        one_shot.scroll_visible(animate=False)
        await pilot.pause()
        await pilot.click(one_shot)
        await pilot.pause()
        assert one_shot.value and not loop.value  # ticking one clears the other
        request = panel.request()
        assert request.one_shot and not request.loop
        names = set(ed.ws.sounds)
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(ed.ws.sounds) == len(names) + 1, timeout=180, what="the generated one-shot")
        grid = ed.ws.grid(ed.ws.a)
        assert grid.source["one_shot"] is True and grid.source["loop"] is False
        await pilot.pause()
        assert ed.message.startswith("generated a one-shot of 2.0 s (seed ")
        silence = silence_column(ed.engine.codec)
        assert np.array_equal(grid.codes[:, -2:], np.repeat(silence[:, None], 2, axis=1))  # it ends in silence
        req = request.settings
        settings = SamplingSettings(req.temperature, req.top_k, req.top_p, seed=grid.source["seed"])
        want = ed.engine.prior.one_shot(silence, grid.positions, settings)
        assert np.array_equal(grid.codes, want)  # the same seed through Prior.one_shot: Generate made a one-shot


@aio
async def test_typing_loop_in_the_palette_finds_loop_playback_and_a_seamless_loop(tmp_path: Path, monkeypatch):
    """A musician who types "loop" at ':' found only "Put house_loop01 in A/B": loop playback was a key (L) and a
    seamless loop a box in the generate panel. Both are palette entries; the loop one ignores the panel's boxes."""
    from textual.command import CommandList
    from textual.widgets import Checkbox

    from distill_tui.tui.widgets.generate_panel import GeneratePanel

    async with demo_editor(tmp_path, monkeypatch, "pluck_a2.wav") as (pilot, ed):
        app = ed.app
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press(*"loop")

        def shown() -> list[str]:
            results = app.screen.query(CommandList)
            if not results:
                return []
            options = results.first()
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        await until(pilot, lambda: any("Generate a seamless loop" in p for p in shown())
                    and any("Loop playback" in p for p in shown()), what="the loop entries")
        # a word of an entry's help finds it too, after the titles that match: "morph" -> Blend toward B…
        for _ in "loop":
            await pilot.press("backspace")
        await pilot.press(*"morph")
        await until(pilot, lambda: any("Blend toward B" in p for p in shown()), what="blend found by 'morph'")
        await pilot.press("escape")
        await pilot.pause()
        run = {c.title: c.callback for c in app.get_system_commands(ed)}
        name = ed.ws.a
        run["Loop playback on/off"]()
        assert ed.ws.grid(name).loop and ed.message.startswith("loop playback on")
        panel = ed.query_one(GeneratePanel)
        one_shot = panel.query_one("#one-shot", Checkbox)
        one_shot.value = True  # the panel says one-shot: the palette's loop is a loop all the same
        await pilot.pause()
        names = set(ed.ws.sounds)
        run["Generate a seamless loop"]()
        await until(pilot, lambda: len(ed.ws.sounds) == len(names) + 1, timeout=180, what="the generated loop")
        grid = ed.ws.grid(ed.ws.a)
        assert grid.source["loop"] is True and grid.source["one_shot"] is False
        assert one_shot.value and not panel.query_one("#loop", Checkbox).value  # the panel is left as it was
        await pilot.pause()
        assert ed.message.startswith("generated a loop of 2.0 s (seed ")
        req = panel.request().settings
        settings = SamplingSettings(req.temperature, req.top_k, req.top_p, seed=grid.source["seed"])
        assert np.array_equal(grid.codes, make_loop(ed.engine.prior, ed.engine.codec, grid.positions, settings).codes)


@aio
async def test_a_generated_sounds_seed_can_be_set_again_and_draws_the_same_sound(tmp_path: Path, monkeypatch):
    """Generate said "(seed 1399111753)": a 31-bit number the panel's seed (0..9999) could not hold, so a sound the
    musician liked could not be drawn again. Drawn seeds fit the panel, and Set seed… offers the seed of the
    generated sound in A."""
    from distill_tui.inference.sampling import DRAWN_SEEDS
    from distill_tui.tui import commands
    from distill_tui.tui.widgets.generate_panel import MAX_SEED, GeneratePanel

    async with demo_editor(tmp_path, monkeypatch, "pluck_a2.wav") as (pilot, ed):
        panel = ed.query_one(GeneratePanel)
        assert panel.request().settings.seed is None and MAX_SEED >= DRAWN_SEEDS
        names = set(ed.ws.sounds)
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(ed.ws.sounds) == len(names) + 1, timeout=180, what="the first sound")
        first = ed.ws.grid(ed.ws.a)
        seed = first.source["seed"]
        assert 1 <= seed <= DRAWN_SEEDS
        set_seed = next(c for c in commands.COMMANDS if c.title == "Set seed…")
        assert ed.seed_offered() == str(seed)  # what the question offers
        set_seed.then(ed, ed.seed_offered())
        assert panel.request().settings.seed == seed and ed.message == f"Generate draws with seed {seed}"
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(ed.ws.sounds) == len(names) + 2, timeout=180, what="the second sound")
        again = ed.ws.grid(ed.ws.a)
        assert again.source["seed"] == seed and np.array_equal(again.codes, first.codes)
        set_seed.then(ed, "12x")  # refused in one line, the seed kept
        await pilot.pause()
        assert panel.request().settings.seed == seed
        set_seed.then(ed, "0")
        assert panel.request().settings.seed is None and ed.message == "Generate draws a new seed each time"
