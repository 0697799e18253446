"""The codebook browser and the model report on the bundled demo model, through a pilot; snapshots of both new screens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.widgets import DataTable

from distill_tui.tui.app import DistillApp
from distill_tui.tui.screens.codebook import PERCEPTUAL, CodebookScreen, occurrences
from distill_tui.tui.screens.report import ReportScreen
from distill_tui.tui.widgets.heatmap import render_heatmap
from distill_tui.tui.widgets.inspector import ORDER_WORDS

from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS, RecordingRouter, aio, copy_demo, decoded, until

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")
SIZE = (110, 32)
SOUNDS = [DEMO_SOUNDS / "pluck_a2.wav", DEMO_SOUNDS / "bell_g4.wav"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("demo"))


async def loaded(pilot, app: DistillApp) -> None:
    ed = app.editor
    await until(pilot, lambda: ed.engine is not None and len(ed.ws.sounds) >= 2 and decoded(ed), what="the demo")


def codebook(app: DistillApp) -> CodebookScreen:
    ed = app.editor
    screen = CodebookScreen(ed.engine, ed)
    app.push_screen(screen)
    return screen


@aio
async def test_browse_sort_hear_jump_and_insert(demo: Path):
    router = RecordingRouter()
    app = DistillApp(demo, SOUNDS, router=router)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        ed = app.editor
        cb = codebook(app)
        await pilot.pause()
        usage = ed.engine.perceptual.levels[0].usage
        assert cb.rows[0] == int(np.argmax(usage)) and len(cb.rows) == len(usage)  # most used first
        await pilot.press("s")
        assert cb.sort == PERCEPTUAL and cb.rows == [int(c) for c in ed.engine.perceptual.levels[0].order]
        await pilot.press("right_square_bracket")
        assert cb.level == 1
        await pilot.press("1")
        assert cb.level == 0

        # hear the highlighted code
        await pilot.press("space")
        await until(pilot, lambda: len(router.played) == 1, what="the code preview")
        assert router.played[0][2].startswith("L1-code-")

        # jump to where a used code occurs in the loaded sounds
        await pilot.press("s")  # back to usage order
        code = int(ed.ws.grid(ed.ws.b).codes[0, 5])  # a code B uses
        cb.query_one(DataTable).move_cursor(row=cb.rows.index(code))
        await pilot.pause()
        assert cb.code == code
        occ = occurrences(ed.ws, 0, code)
        assert occ and "g jumps there" in cb.where_text
        await pilot.press("g")
        assert app.screen is ed and ed.ws.a == occ[0].sound and (ed.grid.level, ed.grid.pos) == (0, occ[0].positions[0])

        # insert a code at the editor's cursor
        ed.grid.move_to(0, 3)
        cb = codebook(app)
        await pilot.pause()
        await pilot.press("end")  # the least used code of level 1
        code = cb.code
        await pilot.press("i")
        await until(pilot, lambda: int(ed.ws.grid(ed.ws.a).codes[0, 3]) == code, what="the insert")
        assert app.screen is ed and ed.ws.dirty(ed.ws.a)


@aio
async def test_codebook_moves_with_j_and_k_and_names_its_columns(demo: Path):
    """Issue: j/k did nothing in the codebook browser, and its hex column had no header."""
    app = DistillApp(demo, SOUNDS, router=RecordingRouter())
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        cb = codebook(app)
        await pilot.pause()
        table = cb.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()][:2] == ["hex", "index"]
        start = table.cursor_row
        await pilot.press("j", "j")
        assert table.cursor_row == start + 2
        await pilot.press("k")
        assert table.cursor_row == start + 1


@aio
async def test_the_level_line_wraps_in_a_narrow_terminal(demo: Path):
    """Issue: at 80 columns the level's description was cut after "its codes differ most in loudness", its
    figures lost off the right edge (the line had a fixed height of 2)."""
    app = DistillApp(demo, SOUNDS, router=RecordingRouter())
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        cb = codebook(app)
        await pilot.pause()
        reason = app.editor.engine.perceptual.levels[0].reason
        line = cb.query_one("#cb-level")
        width = line.content_region.width
        assert len(reason) > width  # the case: a description longer than the line
        assert line.content_region.height >= 1 + -(-len(reason) // width)
        assert cb.query_one(DataTable).size.height >= 5  # the codes still have room


@aio
async def test_at_80_columns_every_footer_key_shows_and_the_order_reads_as_the_inspector_says(demo: Path):
    """At 80 (and 100) columns the footer ended "? hel": help and quit were off screen. The last column was headed
    "dark→bright", with loud dark codes at 48/64; the inspector says the same order is "dark/soft → bright/loud"."""
    from .test_tui_layout_screens import keys_cut_off

    app = DistillApp(demo, SOUNDS, router=RecordingRouter())
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        cb = codebook(app)
        await until(pilot, lambda: app.screen is cb and bool(cb.query(DataTable)) and bool(cb.query_one(DataTable).columns),
                    what="the browser")
        await pilot.pause()
        assert keys_cut_off(cb) == []
        header = [str(c.label) for c in cb.query_one(DataTable).columns.values()][-1]
        assert header.replace("→", " → ") == ORDER_WORDS  # the inspector's words for the same order
        assert "(s: the other order)" in str(cb.query_one("#cb-level").render())
        for _ in range(30):  # g is hidden from the footer and named where it applies: on a code these sounds use
            if "(g jumps there)" in str(cb.query_one("#cb-where").render()):
                break
            await pilot.press("j")
        assert "(g jumps there)" in str(cb.query_one("#cb-where").render())


@aio
async def test_the_report_gives_its_table_the_width_at_80_columns(demo: Path):
    """At 80 columns the health bars beside the report left it 45 columns: its table read "…", "c…" and "(perp…" in
    every cell, a row ten lines high. Below 110 columns the bars (the same figures) give way."""
    app = DistillApp(demo, [], router=RecordingRouter())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ReportScreen(demo)
        app.push_screen(screen)
        await until(pilot, lambda: screen.info is not None, what="the report")
        await pilot.pause()
        assert not screen.query_one("#report-side").display
        assert screen.query_one("#report-main").size.width >= 76
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert screen.query_one("#report-side").display  # room again: the bars come back


@aio
async def test_report_screen_exports_markdown(demo: Path, tmp_path: Path, monkeypatch):
    """`e` writes into the folder Distill was started from, not beside the model (the demo's is in the install)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    app = DistillApp(demo, [], router=RecordingRouter())
    async with app.run_test(size=SIZE) as pilot:
        screen = ReportScreen(demo)
        app.push_screen(screen)
        await until(pilot, lambda: screen.info is not None, what="the report")
        await pilot.press("e")
        md = work / "demo.report.md"
        await until(pilot, lambda: md.exists(), what="the export")
        text = md.read_text()
        assert "## Codebook health" in text and "## Prior" in text
        assert not demo.with_name("demo.report.md").exists()

        # a second export keeps the first report (the user may have annotated it): it is demo-2.report.md
        md.write_text("my notes")
        await pilot.press("e")
        second = work / "demo-2.report.md"
        await until(pilot, lambda: second.exists(), what="the second export")
        assert md.read_text() == "my notes" and "## Prior" in second.read_text()
        assert "demo-2.report.md" in str(screen.query_one("#report-status").content)


@aio
async def test_report_of_a_broken_model_file_says_so(tmp_path: Path):
    bad = tmp_path / "broken.distill"
    bad.write_bytes(b"\x00\x01 not a model")
    app = DistillApp(None, [], router=RecordingRouter())
    async with app.run_test(size=SIZE) as pilot:
        screen = ReportScreen(bad)
        app.push_screen(screen)
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.info is None
        await pilot.press("e")
        assert not bad.with_name("broken.report.md").exists()


def test_heatmap_marks_dead_codes():
    text = render_heatmap([np.array([5, 0, 3, 0]), np.array([1, 1, 1, 1])], 40).plain
    assert text.splitlines()[0].endswith("2 idle") and "idle" not in text.splitlines()[1]


# ---------------------------------------------------------------- snapshots (files in tests/snapshots/)


def test_codebook_browser_snapshot(snap_compare, demo: Path, monkeypatch):
    from distill_tui.tui.themes import REPO_THEMES

    app = DistillApp(demo, SOUNDS, router=RecordingRouter(), theme="distill-dark", theme_dirs=[REPO_THEMES])

    async def run_before(pilot) -> None:  # noqa: ANN001
        await loaded(pilot, pilot.app)
        codebook(pilot.app)
        await pilot.pause()
        await pilot.press("down", "down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 32), run_before=run_before)
