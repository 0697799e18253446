"""Other screens at 80×24 (issue 15): what was found clipped or squeezed there, each a test that failed before its fix."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from textual.css.query import NoMatches
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from distill_tui.analysis.level_effect import LevelEffect
from distill_tui.tui.app import DistillApp
from distill_tui.tui.screens.run_view import RunViewScreen
from distill_tui.tui.screens.train import TrainScreen
from distill_tui.tui.widgets.health_bars import LevelHealth, render_health

from .test_tui_support import RecordingRouter, aio, until


def bare_app() -> DistillApp:
    return DistillApp(None, [], router=RecordingRouter())


def keys_cut_off(screen) -> list[str]:  # noqa: ANN001
    """The footer's keys (Textual's own ^p aside) that do not fit on screen."""
    width = screen.app.size.width
    footer = screen.query_one(Footer)
    palette = [k.region.x for k in footer.query(FooterKey) if k.has_class("-command-palette") and k.region.area]
    right = min(palette) if palette else width
    return [f"{k.key_display or k.key} {k.description}" for k in footer.query(FooterKey)
            if not k.has_class("-command-palette") and (k.region.area == 0 or k.region.right > right)]


def a_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    lines = [{"event": "start", "step": 0, "model": {"codebook_sizes": [64, 64], "levels": 2}}]
    lines += [{"event": "step", "step": s, "recon_db": 20.0 - s / 50, "commit": 0.1, "progress": s / 2000,
               "elapsed_s": s / 5.0} for s in range(10, 300, 10)]
    (folder / "events.jsonl").write_text("".join(json.dumps({"time": 1.0, **e}) + "\n" for e in lines))
    (folder / "run.json").write_text(json.dumps({"data_dir": "/sounds", "output": str(folder / "m.distill")}))
    return folder


@aio
async def test_run_view_footer_keys_all_show_at_80x24(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    app = bare_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = RunViewScreen(a_run(tmp_path / "run"))
        app.push_screen(view)
        await until(pilot, lambda: app.screen is view, what="the run view")
        def laid_out() -> bool:
            try:
                keys = list(view.query_one(Footer).query(FooterKey))
            except NoMatches:  # not composed yet
                return False
            return bool(keys) and all(k.region.area for k in keys)

        # a loaded machine lays the footer out later than a fixed pause (it failed so once): wait for its keys
        await until(pilot, laid_out, timeout=10.0, what="the footer's keys laid out")
        assert keys_cut_off(view) == []


@aio
async def test_train_settings_explanations_stay_readable_at_80x24(monkeypatch):
    folder = Path(tempfile.mkdtemp())
    monkeypatch.chdir(folder)
    app = bare_app()
    async with app.run_test(size=(80, 24)) as pilot:
        train = TrainScreen(None, browse_root=folder)
        app.push_screen(train)
        await until(pilot, lambda: app.screen is train, what="the train screen")
        def widths() -> list[int]:
            return [w.region.width for w in train.query(".why")]

        try:
            await until(pilot, lambda: bool(widths()) and min(widths()) >= 24, timeout=10.0, what="the explanations")
        except AssertionError:
            pass
        assert widths()
        assert min(widths()) >= 24


def test_health_lines_fit_the_width_they_are_given():
    levels = [LevelHealth(level=1, label="Detail", utilization=1.0, perplexity=46.0, dead=0, size=64, gain_db=0.11,
                          colour="green", verdict="fine detail")]
    width = 28
    for line in render_health(levels, width).plain.splitlines():
        assert len(line) <= width, line
    # what muting and random codes do to this sound: "random codes: rough (24.0" then a lone "dB)" at 28 columns
    effects = {1: LevelEffect(level=1, muted_db=15.3, rerolled_db=24.0)}
    lines = render_health(levels, width, effects).plain.splitlines()
    assert all(len(line) <= width for line in lines) and "  random codes: rough" in lines
    assert "  muted: rough (15.3 dB)" in lines and not any(line.strip() == "dB)" for line in lines)


def test_a_level_that_uses_every_code_does_not_also_say_only_some_are_in_use():
    """At 100 x 30 on a 50-file model the panel read "100% used" over "~54 in use": every code is used, about 54 of
    them carry most of the sound. The second figure is now "common"."""
    levels = [LevelHealth(level=0, label="Structure", utilization=1.0, perplexity=54.0, dead=0, size=128, gain_db=14.0,
                          colour="green", verdict="healthy")]
    text = render_health(levels, 34).plain
    assert "100% used" in text and "~54 common · 0 idle" in text and "in use" not in text


@aio
async def test_the_empty_editor_says_what_to_do_whole_at_80x24():
    """Without a model the grid pane (49 columns at 80) showed "no model yet — ':' then 'Open model…', or 'Trai":
    one line, cut mid-word. It now wraps inside the pane."""
    app = bare_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "no model yet" in app.editor.grid.placeholder, what="the empty editor")
        await pilot.pause()
        grid = app.editor.grid
        rows = [grid.render_line(y).text.strip() for y in range(grid.size.height)]
        assert " ".join(r for r in rows if r) == grid.placeholder
        assert all(len(r) <= grid.size.width for r in rows)
