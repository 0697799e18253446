"""The editor at small terminals (80×24, a common SSH window; 100×30): nothing hidden, nothing squeezed out.

Issue 15: at 80 columns the Generate panel sat below the side panel's fold, reachable only by Tab or scrolling.
Below 100 columns the side panels are tabs (`t` goes to the next); above, `t` scrolls the next one into view.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widget import Widget

from distill_tui.inference import session as session_module
from distill_tui.tui.app import DistillApp
from distill_tui.tui.screens import editor as editor_module
from distill_tui.tui.widgets.code_grid import CodeGridView
from distill_tui.tui.widgets.generate_panel import GeneratePanel
from distill_tui.tui.widgets.slider import Slider

from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS, RecordingRouter, aio, copy_demo, decoded, until

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")

MIN_COLUMNS_AT_80 = 12  # code columns the grid shows at 80 columns (11 before the side panels became tabs)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("layout"))


@pytest.fixture(scope="module")
def loaded_engine(demo: Path):
    return session_module.InferenceSession.load(demo)


@pytest.fixture
def make_app(demo: Path, loaded_engine, monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(session_module.InferenceSession, "load", staticmethod(lambda path: loaded_engine))
    monkeypatch.setattr(editor_module, "IDLE_FULL_DECODE_S", 600.0)

    def make() -> DistillApp:
        return DistillApp(demo, [DEMO_SOUNDS / "pluck_a2.wav", DEMO_SOUNDS / "bell_g4.wav"], router=RecordingRouter())

    return make


async def ready(pilot, app: DistillApp) -> None:
    ed = app.editor
    await until(pilot, lambda: ed.engine is not None and len(ed.ws.sounds) >= 2 and decoded(ed), what="the demo")
    await pilot.pause()


def visible_columns(grid: CodeGridView) -> int:
    return (grid.scrollable_content_region.width - grid.LABEL_WIDTH) // grid.cell_width


def shown(widget: Widget) -> bool:
    """On screen: displayed, with a region the compositor draws, and topmost at its own middle."""
    screen = widget.screen
    region = widget.region
    if not widget.display or region.area == 0:
        return False
    try:
        hit, _ = screen.get_widget_at(region.x + region.width // 2, region.y + region.height // 2)
    except Exception:
        return False
    return hit is widget or widget in hit.ancestors


def generate_controls(app: DistillApp) -> list[Widget]:
    panel = app.editor.query_one(GeneratePanel)
    return [*panel.query(Slider), panel.query_one("#loop"), panel.query_one("#one-shot"), panel.query_one("#generate-button")]


async def show_generate(pilot, app: DistillApp) -> None:
    """Press `t` until the Generate panel is the chosen side panel (at most once round)."""
    status = app.editor.query_one("#status").region
    for _ in range(6):
        if all(shown(w) and w.region.bottom <= status.y for w in generate_controls(app)):  # whole, not half under the status line
            return
        await pilot.press("t")
        await pilot.pause()


def assert_inside(app: DistillApp, widgets: list[Widget]) -> None:
    screen_region = Region(0, 0, *app.size)
    status = app.editor.query_one("#status").region
    for w in widgets:
        assert shown(w), f"{w!r} is not on screen"
        assert screen_region.contains_region(w.region), f"{w!r} at {w.region} leaves the screen {screen_region}"
        assert w.region.bottom <= status.y, f"{w!r} at {w.region} reaches the status line at row {status.y}"


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
@aio
async def test_generate_controls_are_on_screen_after_t(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        grid = app.editor.grid
        await show_generate(pilot, app)
        assert_inside(app, generate_controls(app))
        assert app.focused is grid, "switching side panels must leave the keys with the grid"
        pos = grid.pos
        await pilot.press("l")
        assert grid.pos == pos + 1


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 35)])
@aio
async def test_nothing_overlaps_the_status_line_and_the_grid_keeps_its_width(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        ed = app.editor
        status = ed.query_one("#status")
        assert status.region.width == size[0] and status.region.height == 1
        for w in ed.query("*"):
            if w is status or not w.display or w in status.ancestors:
                continue
            try:
                seen = ed.find_widget(w).visible_region  # its region clipped by the containers that scroll it
            except Exception:
                continue  # not drawn
            if seen.area and seen.overlaps(status.region):
                raise AssertionError(f"{w!r} drawn at {seen} overlaps the status line at {status.region}")
        assert visible_columns(ed.grid) >= (MIN_COLUMNS_AT_80 if size[0] == 80 else 17)


@aio
async def test_each_side_panel_in_turn_is_shown_whole_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        ed = app.editor
        seen = []
        for _ in range(4):
            chosen = ed.query_one("#side").chosen
            seen.append(chosen)
            panel = ed.query_one(f"#panel-{chosen}")
            assert shown(panel)
            others = [p for p in ed.query(".side-panel") if p is not panel]
            assert not any(p.display for p in others), "one side panel at a time below 100 columns"
            await pilot.press("t")
            await pilot.pause()
        assert sorted(seen) == ["cell", "generate", "health", "sounds"]
        assert ed.query_one("#side").chosen == seen[0], "t goes round"


@aio
async def test_tab_goes_only_to_the_shown_panel_and_t_from_a_control_gives_the_grid_back(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        ed = app.editor
        await show_generate(pilot, app)
        await pilot.press("tab")
        assert app.focused is not None and app.focused in generate_controls(app)
        await pilot.press("t")  # the Generate panel goes: its slider must not keep the keys, hidden
        await pilot.pause()
        assert app.focused is ed.grid
        await pilot.press("l")
        assert ed.grid.pos == 1


@aio
async def test_tab_on_a_panel_without_controls_says_so_and_its_hint_does_not_offer_it(make_app):
    """Found by hand in tmux at 80 x 24: the Cell panel's hint said "t next panel · Tab into it", and Tab did nothing
    and said nothing (Cell and Health hold nothing to focus)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        ed = app.editor
        side, tabs = ed.query_one("#side"), ed.query_one("#side-tabs")
        for chosen, controls in (("cell", False), ("sounds", True), ("health", False), ("generate", True)):
            assert side.chosen == chosen
            hint = str(tabs.render()).splitlines()[-1]
            assert ("Tab into it" in hint) is controls, (chosen, hint)
            ed.set_message("")
            await pilot.press("tab")
            await pilot.pause()
            if controls:
                assert app.focused is not ed.grid and "Tab" not in ed.message
                await pilot.press("escape")
            else:
                assert app.focused is ed.grid and ed.message == f"{side.title(chosen)} has nothing to Tab into; t: next panel"
            await pilot.press("t")
            await pilot.pause()


@aio
async def test_live_resize_120_to_80_and_back(make_app):
    """Resizing from 80×24 to 120×35 crashed the spectrogram (an image built for the old height, IndexError)."""
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot, app)
        ed = app.editor
        side = ed.query_one("#side")
        wide_width, wide_columns = side.region.width, visible_columns(ed.grid)
        assert not side.has_class("-compact")
        for size in [(80, 24), (120, 35), (80, 24), (120, 35)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            await pilot.pause()
            assert side.has_class("-compact") == (size[0] < 100)
            await pilot.press("l")
        assert app.focused is ed.grid and ed.grid.pos == 4
        assert side.region.width == wide_width and visible_columns(ed.grid) == wide_columns
        assert all(p.display for p in ed.query(".side-panel")), "every panel is back at 120 columns"
        await show_generate(pilot, app)
        assert_inside(app, generate_controls(app))


@aio
async def test_focus_in_a_panel_chooses_that_panel_when_the_terminal_narrows(make_app):
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot, app)
        button = app.editor.query_one("#generate-button")
        button.focus()
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        await pilot.pause()
        assert app.focused is button and shown(button)


@aio
async def test_the_spectrogram_draws_rows_of_a_new_height_before_it_hears_of_the_resize():
    """tmux, 80×24 -> 120×35: IndexError in SpectrogramStrip.render_line (the image was built for 16 rows and a
    line below them was drawn before `on_resize` dropped it), and the editor died."""
    import numpy as np
    from textual.app import App

    from distill_tui.tui.widgets.spectrogram import SpectrogramStrip

    class One(App):
        def compose(self):  # noqa: ANN202
            yield SpectrogramStrip(id="spectrogram")

    app = One()
    async with app.run_test(size=(60, 20)) as pilot:
        strip = app.query_one(SpectrogramStrip)
        db = np.random.default_rng(0).uniform(-80, 0, (257, 40)).astype(np.float32)  # (F, T)
        strip.show(db, sample_rate=22050, stride=4, cell_width=3, label_width=13)
        await pilot.pause()
        strip._image = strip._build(5)  # what the strip kept from a 5-row layout
        strip._cache.clear()
        last = strip.render_line(strip.size.height - 1)
        assert last.cell_length == strip.size.width


@pytest.mark.parametrize("size", [(80, 24), (120, 35)])
@aio
async def test_a_long_message_leaves_the_status_line_readable(make_app, size):
    """tmux at 80×24: the PortAudio notice (14 lines) covered the status line's end ("· decod▌")."""
    from textual.widgets._toast import Toast

    app = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await ready(pilot, app)
        ed = app.editor
        app.notify("the PortAudio library is missing: " + "install it, then try again " * 12, timeout=30)
        await pilot.pause()
        await pilot.pause()
        status = ed.query_one("#status").region
        toasts = list(ed.query(Toast))
        assert toasts
        for toast in toasts:
            assert not ed.find_widget(toast).visible_region.overlaps(status)


@aio
async def test_at_120_columns_t_scrolls_the_next_panel_into_view_and_never_strands_the_keys(make_app):
    app = make_app()
    async with app.run_test(size=(120, 35)) as pilot:
        await ready(pilot, app)
        ed = app.editor
        side = ed.query_one("#side")
        for _ in range(3):
            await pilot.press("t")
            await pilot.pause()
        assert side.chosen == "generate" and app.focused is ed.grid
        assert_inside(app, generate_controls(app))
        creativity = ed.query_one("#creativity")
        creativity.focus()
        await pilot.pause()
        await pilot.press("t")  # to Cell: the slider scrolls away, so it must not keep the keys
        await pilot.pause()
        assert side.chosen == "cell" and app.focused is ed.grid
        await pilot.press("tab")  # the first control after the grid: its panel becomes the chosen one
        await pilot.pause()
        assert side.chosen == ed.query_one("#side")._panel_of(app.focused)  # noqa: SLF001


@pytest.mark.parametrize("control", ["creativity", "loop", "one-shot", "generate-button"])
@aio
async def test_escape_in_a_side_panel_gives_the_keys_back_to_the_grid(make_app, control):
    """Found by hand in tmux: after Tab into the Generate panel, Esc did nothing, so the next h/j/k/l and hex keys
    went to a slider or a box; only Tab round the whole panel brought the grid back."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        ed = app.editor
        await show_generate(pilot, app)
        ed.query_one(f"#{control}").focus()
        await pilot.pause()
        assert app.focused is not ed.grid
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is ed.grid
        pos = ed.grid.pos
        await pilot.press("l")
        assert ed.grid.pos == pos + 1  # the keys move the cursor again
        await pilot.press("escape")  # on the grid Esc is still normal mode: nothing else happens
        assert app.focused is ed.grid and ed.grid.mode == "NORMAL"
