"""Issue 15: what the editor says and where: one palette of Distill's own commands, Esc then a key typed fast,
the mode shown once, the codebook's sort named truly, the report scrolling at once, the charts in plain words."""

# ruff: noqa: F811 - the editor fixtures are imported from test_tui_app and taken as arguments
from __future__ import annotations

import os
from pathlib import Path

from distill_tui.analysis.memorization import verdict
from distill_tui.tui.screens.codebook import CodebookScreen
from distill_tui.tui.screens.confirm_unsaved import UnsavedScreen
from distill_tui.tui.screens.report import ReportScreen
from distill_tui.tui.screens.run_view import RunViewScreen
from distill_tui.tui.widgets.code_grid import EDIT, NORMAL

from .test_tui_app import SIZE, app_factory, demo, loaded_engine, ready  # noqa: F401 - fixtures
from .test_tui_support import aio, until
from .test_tui_train import bare_app, ev, make_run, screen_text

ML_WORDS = ("ppl", "perplexity 201", "dropout", "--context", "recon dB", "validation ppl")


@aio
async def test_the_palette_offers_distills_commands_and_its_quit_asks_about_unsaved_edits(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        commands = {c.title: c.callback for c in app.get_system_commands(app.editor)}
        assert not {"Keys", "Maximize", "Minimize", "Screenshot"} & set(commands)
        assert {"Theme", "Quit", "Help (keys)"} <= set(commands)
        await pilot.press("i", "0", "1", "escape")  # one unsaved edit
        await pilot.pause()
        assert app.editor.ws.dirty_names()
        commands["Quit"]()
        await pilot.pause()
        assert isinstance(app.screen, UnsavedScreen)  # Textual's own Quit left at once, edits lost


@aio
async def test_escape_then_a_key_typed_fast_is_read_as_both(app_factory):
    """A terminal merges Esc and a key typed within ~100 ms into alt+key: EDIT stayed on and the key was lost."""
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        grid = app.editor.grid
        await pilot.press("i")
        assert grid.mode == EDIT
        pos = grid.pos
        await pilot.press("alt+l")
        await pilot.pause()
        assert grid.mode == NORMAL and grid.pos == pos + 1
        await pilot.press("alt+v")  # from NORMAL too: Esc does nothing, v starts a selection
        await pilot.pause()
        assert grid.mode == "VISUAL"


@aio
async def test_the_mode_is_shown_once_on_the_status_line(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("i")
        await pilot.pause()
        text = screen_text(app)
        assert text.count("EDIT") == 1, text
        assert "NORMAL s" not in text and "level · time" in text


@aio
async def test_the_codebook_names_its_sort_truly(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.push_screen(CodebookScreen(app.editor.engine, app.editor))
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "darkest/softest" not in text  # codes described "bright · soft" sat under that heading
        await pilot.press("s")  # the other sort
        await pilot.pause(0.2)
        text = screen_text(app) + screen_text(app)
        assert "darkest/softest" not in text


@aio
async def test_the_report_scrolls_without_tab(app_factory, demo: Path):
    app, _ = app_factory()
    async with app.run_test(size=(100, 24)) as pilot:
        await ready(pilot, app)
        screen = ReportScreen(demo)
        app.push_screen(screen)
        await until(pilot, lambda: screen.info is not None, what="the report")
        main = screen.query_one("#report-main")
        await until(pilot, lambda: main.max_scroll_y > 0, what="the report's text")
        await pilot.press("j", "j")
        await pilot.pause(0.1)
        assert main.scroll_y > 0
        y = main.scroll_y
        await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert main.scroll_y > y


@aio
async def test_the_training_charts_speak_plainly(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = make_run(tmp_path / "r", ev(event="start", step=0, model={"codebook_sizes": [16, 32], "levels": 2}),
                   ev(event="step", step=1, recon_db=20.0, commit=0.1, progress=0.01, elapsed_s=1.0),
                   pid=os.getpid(), checkpoint=False)
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RunViewScreen(run))
        await until(pilot, lambda: "lower is better" in screen_text(app), what="the charts")
        text = screen_text(app)
        assert "recon dB" not in text and "validation ppl" not in text
        assert "commitment" not in text and "gap to the nearest codes" in text


def test_the_priors_verdicts_give_no_training_knobs():
    for args in ((1.2, 1.0, 10.0, 0.1), (12.0, 11.0, 10.0, 0.1), (12.0, 3.0, 10.0, 0.1), (5.0, 4.0, 10.0, 0.1),
                 (25.0, 20.0, 40.0, 0.1)):
        said = verdict(*args)
        assert not any(w in said for w in ML_WORDS), said
        assert "bigram" not in said.split("—")[1].split("(")[0] or "counts" in said


@aio
async def test_the_side_panel_says_what_muting_each_level_does_to_this_sound(app_factory):
    """Issue: "2 Detail … adds little" talked users out of a row that moves the sound by several dB."""
    from distill_tui.analysis.level_effect import level_effects
    from distill_tui.tui.widgets.health_bars import HealthBars

    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        bars = ed.query_one(HealthBars)
        await until(pilot, lambda: bars.effects_of == ed.ws.a, what="the level effects of A")
        grid = ed.ws.grid(ed.ws.a)
        want = level_effects(ed.engine.codec.decode_db, grid.codes, grid.codebook_sizes)
        assert [bars.effects[e.level] for e in want] == want
        assert want[0].muted_db > 3 and want[0].rerolled_db > 3  # the coarse level carries the sound
        text = str(bars.render())
        assert text.count("muted:") == text.count("random codes:") == len(want) and "ppl" not in text and "rough" in text
        # "+13 dB" alone under a level, and "re-rolled", said nothing a musician could read
        assert "re-rolled" not in text and " +" not in text and text.count("adds ") == len(want)
        await pilot.press("tab")  # B becomes A: measured again for that sound
        ed.action_other_slot()
        await until(pilot, lambda: bars.effects_of == ed.ws.a, what="the level effects of the other sound")


@aio
async def test_after_a_wrong_model_path_a_good_model_opens_the_sounds_asked_for(app_factory, demo: Path, tmp_path: Path):
    """Issue item 4: `distill-tui open nosuch.distill my.wav`, then Open model… a good one: the sound never loaded."""
    from .test_tui_app import A_SOUND

    app, _ = app_factory(A_SOUND, model=tmp_path / "nosuch.distill")
    async with app.run_test(size=SIZE) as pilot:
        ed = app.editor
        await until(pilot, lambda: any("Cannot open the model" in str(n.title) for n in app._notifications),  # noqa: SLF001
                    what="the refusal")
        ed.open_model(demo)
        await until(pilot, lambda: ed.engine is not None and ed.ws.a == A_SOUND.stem, what="the sound asked for")
        assert "nosuch" not in str(ed.query_one("#title").render())


@aio
async def test_the_prior_run_says_what_its_folds_found_while_they_run(tmp_path: Path, monkeypatch):
    """The prior's k-fold check takes about 2/3 of a run and said nothing on the run view; then (the real trainer
    writes no "ready" before its folds) "Starting: reading the sounds and building the model…" for all of it."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = make_run(tmp_path / "p", ev(event="start", step=0, prior={"architecture": "transformer", "levels": 3}),
                   ev(event="fold", step=0, fold=2, folds=5, best_val_ppl=41.2, bigram_val_ppl=44.6),
                   pid=os.getpid(), checkpoint=False)
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        view = RunViewScreen(run)
        app.push_screen(view)
        await until(pilot, lambda: "part 2 of 5" in screen_text(app), what="the fold's progress")
        assert "Starting" not in view.state_message() and "part 2 of 5 done" in screen_text(app)
        with (run / "events.jsonl").open("ab") as fh:
            fh.write(ev(event="folds", step=0, keep_network=True, network_perplexity=40.1, bigram_perplexity=44.6))
        await until(pilot, lambda: "the network is kept" in screen_text(app), what="the folds' decision")
