"""The editor's Variations… command on the demo model: slots made, heard with their number, one kept, Esc closes."""

from __future__ import annotations

import numpy as np
import pytest

from distill_tui.inference.session import NO_PRIOR_YET
from distill_tui.tui.screens.prompt import PromptScreen
from distill_tui.tui.screens.variations import VariationsScreen

from .test_tui_app import SIZE, app_factory, demo, loaded_engine, ready  # noqa: F401 - the fixtures
from .test_tui_support import DEMO_MODEL, aio, until

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")


async def open_variations(pilot, app, count: str | None = None) -> VariationsScreen | None:
    """Choose "Variations…" in the palette and answer its question (the default 4 when `count` is None)."""
    run = {c.title: c.callback for c in app.get_system_commands(app.editor)}
    run["Variations…"]()
    await until(pilot, lambda: isinstance(app.screen, PromptScreen) and bool(app.screen.query("Input")),
                what="the question")
    if count is not None:
        app.screen.query_one("Input").value = count
    await pilot.press("enter")
    await pilot.pause()
    return app.screen if isinstance(app.screen, VariationsScreen) else None


@aio
async def test_four_slots_heard_by_number_and_the_chosen_one_kept(app_factory):  # noqa: F811
    app, router = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        name, source = ed.ws.a, ed.ws.grid(ed.ws.a).codes.copy()
        screen = await open_variations(pilot, app)
        assert screen is not None
        await until(pilot, lambda: len(screen.slots) == 4, what="four variations")
        grids = [slot.grid.codes for slot in screen.slots]
        assert all(np.array_equal(g[0], source[0]) and not np.array_equal(g, source) for g in grids)
        assert len({g.tobytes() for g in grids}) == 4
        assert [s.grid.name for s in screen.slots] == [f"{name}-var{k}" for k in (1, 2, 3, 4)]
        await pilot.press("3")
        await until(pilot, lambda: bool(router.played), what="variation 3 played")
        audio, _, heard = router.played[-1]
        assert heard == f"{name}-var3" and np.array_equal(audio, screen.slots[2].audio)
        assert "▶ 3" in "\n".join(screen.slot_lines())
        assert all(line.endswith("over time") for line in screen.slot_lines()[:4])  # how far, in words
        subtle = not any(slot.audible for slot in screen.slots)  # the demo's bells: level 2 carries little
        assert ("all subtle: little of" in "\n".join(screen.slot_lines())) == subtle
        assert ("l moves level 1 a little too" in "\n".join(screen.slot_lines())) == subtle  # what to try next
        await pilot.press("enter")
        await until(pilot, lambda: f"{name}-var3" in ed.ws.sounds, what="the kept variation")
        assert not isinstance(app.screen, VariationsScreen)
        assert ed.ws.a == f"{name}-var3" and ed.ws.dirty(f"{name}-var3")  # a new sound, on no disk yet
        assert np.array_equal(ed.ws.grid(ed.ws.a).codes, grids[2])
        assert np.array_equal(ed.ws.grid(name).codes, source)  # the source is untouched


@aio
async def test_esc_closes_without_a_new_sound_and_bad_counts_are_refused(app_factory):  # noqa: F811
    app, router = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        names = set(ed.ws.sounds)
        for answer in ("0", "many"):  # each refused in a sentence (a new question clears the last one's notice)
            assert await open_variations(pilot, app, answer) is None
            messages = " ".join(n.message for n in app._notifications)  # noqa: SLF001
            assert messages.count("from 1 to 9") == 1
        screen = await open_variations(pilot, app, "2")
        await until(pilot, lambda: len(screen.slots) == 2, what="two variations")
        assert "1–2: hear · ↑↓: choose" in str(screen.query_one("#variations-help").render())
        await pilot.press("5")  # there is no fifth slot: nothing plays
        await pilot.pause()
        assert not router.played
        await pilot.press("r")  # a new set replaces the old one
        await until(pilot, lambda: len(screen.slots) == 2, what="a new set")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, VariationsScreen) and set(ed.ws.sounds) == names


@aio
async def test_one_variation_offers_no_choice_between_slots(app_factory):  # noqa: F811
    """A set of one read "1–1: hear · ↑↓: choose": a range and a choice where there is one slot."""
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        screen = await open_variations(pilot, app, "1")
        await until(pilot, lambda: len(screen.slots) == 1, what="one variation")
        keys = str(screen.query_one("#variations-help").render())
        assert keys.startswith("1: hear · space: play/stop") and "1–1" not in keys and "↑↓" not in keys


@aio
async def test_without_a_prior_the_command_says_why(app_factory, loaded_engine, monkeypatch):  # noqa: F811
    monkeypatch.setattr(loaded_engine, "prior", None)
    monkeypatch.setattr(loaded_engine, "prior_error", NO_PRIOR_YET)
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert await open_variations(pilot, app) is None
        messages = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "no prior yet" in messages and "Train the prior…" in messages


@aio
async def test_l_chooses_which_levels_are_kept_and_draws_a_new_set(app_factory):  # noqa: F811
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        source = ed.ws.grid(ed.ws.a).codes.copy()
        screen = await open_variations(pilot, app, "3")
        await until(pilot, lambda: len(screen.slots) == 3, what="three variations")
        title = screen.query_one("#variations-title").render()
        assert "level 1 kept" in str(title)
        await pilot.press("l")  # level 1 moved a little: the middle ground when every variation is subtle
        await until(pilot, lambda: len(screen.slots) == 3 and screen.nudged, what="a set with level 1 moved a little")
        assert "level 1 moved a little, the rest redrawn" in str(screen.query_one("#variations-title").render())
        moved = [int((slot.grid.codes[0] != source[0]).sum()) for slot in screen.slots]
        assert all(m < source.shape[1] for m in moved) and any(moved), moved  # some positions moved, never all
        assert all(slot.grid.source["variation"]["nudged"] is True for slot in screen.slots)
        await pilot.press("l")  # redraw every level: the way out when even that is too close
        await until(pilot, lambda: len(screen.slots) == 3 and screen.keep == [], what="a set with every level redrawn")
        assert "every level redrawn" in str(screen.query_one("#variations-title").render())
        grids = [slot.grid.codes for slot in screen.slots]
        assert any(not np.array_equal(g[0], source[0]) for g in grids)  # level 1 redrawn too
        assert all(slot.grid.source["variation"]["keep_levels"] == [] for slot in screen.slots)
        assert "l: " in screen.query_one("#variations-help").render().plain  # the key is on screen
        await pilot.press("l")  # the demo has two levels: back to keeping the first
        await until(pilot, lambda: len(screen.slots) == 3 and screen.keep == [0] and not screen.nudged,
                    what="level 1 kept again")
        assert all(np.array_equal(slot.grid.codes[0], source[0]) for slot in screen.slots)
        assert all(slot.grid.source["variation"]["keep_levels"] == [1] for slot in screen.slots)


@aio
async def test_the_first_variation_can_be_heard_while_the_others_are_drawn(app_factory, monkeypatch):  # noqa: F811
    """The dialog lists each variation as soon as it is final: with the drawing held after the first, slot 1 is
    there and plays, and the dialog says the second is being drawn; the rest follow."""
    import threading

    from distill_tui.inference import variations

    release = threading.Event()
    real = variations.vary

    def held(*args, on_ready=None, **kwargs):
        def ready(v):
            on_ready(v)
            if v.index == 1:
                release.wait(60)

        return real(*args, on_ready=ready, **kwargs)

    monkeypatch.setattr(variations, "vary", held)
    app, router = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        screen = await open_variations(pilot, app)
        assert screen is not None
        try:
            await until(pilot, lambda: len(screen.slots) == 1, what="the first variation")
            assert "drawing 2 of 4…" in screen.slot_lines()
            await pilot.press("1")
            await until(pilot, lambda: bool(router.played), what="variation 1 played")
            assert router.played[-1][2] == f"{app.editor.ws.a}-var1" and len(screen.slots) == 1
        finally:
            release.set()
        await until(pilot, lambda: len(screen.slots) == 4, what="the other three")
        # a slot's line fits on one line for a sound name of 16 letters and a 10-s sound (it wrapped at 72 wide)
        longest = "▶ 9  " + "n" * 16 + "-var9  10.22 s  changed (10.0 dB), same shape over time"
        assert screen.query_one("#variations-slots").size.width >= len(longest)


@aio
async def test_the_dialog_says_it_is_drawing_before_the_first_variation_arrives(app_factory, monkeypatch):  # noqa: F811
    """On a 3-minute sound the first variation takes 20 s, and the dialog showed nothing under its title until then
    (found by hand): "drawing 4 variations…" was set while the screen mounted, and not drawn."""
    import threading

    import distill_tui.inference.variations as variations

    app, _ = app_factory()
    release = threading.Event()
    real = variations.vary

    def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(variations, "vary", slow)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        screen = await open_variations(pilot, app)
        assert screen is not None
        await pilot.pause()
        shown = str(screen.query_one("#variations-slots").render())
        release.set()
        assert "drawing 4 variations…" in shown, shown
        await until(pilot, lambda: len(screen.slots) == 4, what="four variations")


@aio
async def test_each_variation_is_one_line_at_80_columns_whatever_the_sounds_name(app_factory):  # noqa: F811
    """Found in tmux at 80 x 24: "heaven_strings01-var1   3.25 s  subtle (1.2 dB), same shape over time" wrapped,
    every slot on two lines. The dialog's title names the sound; the slots say var1, var2, …"""
    from distill_tui.tui.messages import SoundLoaded

    app, _ = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        ed = app.editor
        grid = ed.ws.grid(ed.ws.a).copy()
        grid.name = "heaven_strings_take_two01"
        ed.post_message(SoundLoaded(grid, slot="A", unsaved=True))
        await until(pilot, lambda: ed.ws.a == grid.name, what="the long-named sound in A")
        screen = await open_variations(pilot, app, "3")
        await until(pilot, lambda: len(screen.slots) == 3 and "drawing" not in screen.status, what="three variations")
        lines = screen.slot_lines()
        assert [line[1:].split()[1] for line in lines[:3]] == ["var1", "var2", "var3"]
        assert f"Variations of {grid.name}" in str(screen.query_one("#variations-title").render())
        await pilot.pause()
        width = screen.query_one("#variations-slots").size.width
        assert all(len(line) <= width for line in lines[:3]), (width, lines)  # no slot wraps
        assert screen.slots[0].grid.name == f"{grid.name}-var1"  # what Enter keeps is named in full
