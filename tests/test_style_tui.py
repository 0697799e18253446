"""The editor's "Generate in the style of…" on the demo model: a new sound opened in A, the chosen ones untouched."""

from __future__ import annotations

import numpy as np
import pytest

from distill_tui.inference.session import NO_PRIOR_YET
from distill_tui.tui.screens.prompt import PromptScreen

from .test_tui_app import SIZE, app_factory, demo, loaded_engine, ready  # noqa: F401 - the fixtures
from .test_tui_support import DEMO_MODEL, aio, until

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")
TITLE = "Generate in the style of…"


async def ask_style(pilot, app, answer: str | None = None) -> None:
    """Choose the command in the palette and answer its question (the default, the sound in A, when None)."""
    run = {c.title: c.callback for c in app.get_system_commands(app.editor)}
    run[TITLE]()
    await until(pilot, lambda: isinstance(app.screen, PromptScreen) and bool(app.screen.query("Input")),
                what="the question")
    if answer is not None:
        app.screen.query_one("Input").value = answer
    else:
        assert app.screen.query_one("Input").value == app.editor.ws.a  # the default is the current sound
    await pilot.press("enter")
    await pilot.pause()


@aio
async def test_a_new_sound_in_the_style_of_the_current_one_opens_in_a(app_factory):  # noqa: F811
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        name = ed.ws.a
        source = ed.ws.grid(name).codes.copy()
        await ask_style(pilot, app)
        await until(pilot, lambda: f"like-{name}" in ed.ws.sounds, what="the new sound")
        new = ed.ws.grid(f"like-{name}")
        assert ed.ws.a == f"like-{name}" and ed.ws.dirty(f"like-{name}")  # on no disk yet
        assert new.source["like"] == [name] and new.codes.shape[0] == source.shape[0]
        assert np.array_equal(ed.ws.grid(name).codes, source)  # the chosen sound is untouched
        # two open sounds at once: the prompt comes from the first named
        other = next(n for n in ed.ws.names() if n not in {name, f"like-{name}"})
        await ask_style(pilot, app, f"{other}, {name}")
        await until(pilot, lambda: f"like-{other}" in ed.ws.sounds, what="a sound in the style of two")
        assert ed.ws.grid(f"like-{other}").source["like"] == [other, name]


@aio
async def test_a_sound_that_is_not_open_is_refused(app_factory):  # noqa: F811
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        names = set(ed.ws.sounds)
        await ask_style(pilot, app, "nothing-by-this-name")
        await pilot.pause()
        messages = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "nothing-by-this-name" in messages and "not an open sound" in messages
        assert set(ed.ws.sounds) == names


@aio
async def test_without_a_prior_the_command_says_why(app_factory, loaded_engine, monkeypatch):  # noqa: F811
    monkeypatch.setattr(loaded_engine, "prior", None)
    monkeypatch.setattr(loaded_engine, "prior_error", NO_PRIOR_YET)
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        names = set(app.editor.ws.sounds)
        await ask_style(pilot, app)
        messages = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "no prior" in messages and set(app.editor.ws.sounds) == names


@aio
async def test_a_one_shot_in_the_style_of_the_current_one_starts_and_ends_in_silence(app_factory):  # noqa: F811
    """With the generate panel's One-shot box ticked, the style command draws a one-shot too (issue 14)."""
    from textual.widgets import Checkbox

    from distill_tui.inference.generate import silence_column

    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        name = ed.ws.a
        ed.query_one("#one-shot", Checkbox).value = True
        await pilot.pause()
        await ask_style(pilot, app)
        await until(pilot, lambda: f"like-{name}" in ed.ws.sounds, what="the new one-shot")
        new = ed.ws.grid(f"like-{name}")
        assert new.source["one_shot"] is True and new.source["like"] == [name]
        silence = silence_column(ed.engine.codec)
        assert np.array_equal(new.codes[:, -2:], np.repeat(silence[:, None], 2, axis=1))
        await pilot.pause()
        assert ed.message.startswith("generated a one-shot of ") and f"in the style of {name}" in ed.message
