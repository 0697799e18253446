"""Snapshots (pytest-textual-snapshot) of the editor's main screens; files in tests/snapshots/.

Update after a deliberate change of the look:  pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest

from distill_tui.tui.app import DistillApp
from distill_tui.tui.themes import REPO_THEMES

from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS, RecordingRouter, copy_demo, decoded, until

snapshot_plugin = pytest.importorskip("pytest_textual_snapshot", reason="pip install pytest-textual-snapshot")
pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")



@pytest.fixture(autouse=True)
def cold_codes_cache(tmp_path, monkeypatch) -> None:
    """Each snapshot opens its sounds as the snapshots were made: encoded after the model, not shown from the
    codes cache first (the health bars are sized when the model arrives, a column narrower when the sounds
    already fill the side panel)."""
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("snap"))


def editor(demo: Path, theme: str = "distill-dark") -> DistillApp:
    sounds = [DEMO_SOUNDS / "pluck_a2.wav", DEMO_SOUNDS / "bell_g4.wav"]
    return DistillApp(demo, sounds, router=RecordingRouter(), theme=theme, theme_dirs=[REPO_THEMES])


def after_loading(*keys: str):  # noqa: ANN201
    async def run(pilot) -> None:  # noqa: ANN001
        ed = pilot.app.editor
        ed.show_timings = False
        await until(pilot, lambda: ed.engine is not None and len(ed.ws.sounds) >= 2 and decoded(ed),
                    what="the demo sounds")
        if keys:
            await pilot.press(*keys)
        await until(pilot, lambda: decoded(ed), what="decoding")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return run


def test_main_screen(snap_compare, demo: Path):
    assert snap_compare(editor(demo), terminal_size=(110, 32), run_before=after_loading("3", "l", "j"))


def test_visual_selection_at_80x24_light(snap_compare, demo: Path):
    assert snap_compare(editor(demo, "distill-light"), terminal_size=(80, 24),
                        run_before=after_loading("2", "l", "v", "4", "l", "j"))


def test_edit_mode_high_contrast(snap_compare, demo: Path):
    assert snap_compare(editor(demo, "distill-high-contrast"), terminal_size=(100, 28),
                        run_before=after_loading("i", "1", "f", "2"))


def test_help_screen(snap_compare, demo: Path):
    assert snap_compare(editor(demo), terminal_size=(100, 30), run_before=after_loading("question_mark"))


def test_quit_asks_about_unsaved_edits(snap_compare, demo: Path):
    assert snap_compare(editor(demo), terminal_size=(90, 26), run_before=after_loading("i", "0", "0", "escape", "ctrl+q"))


def test_terminal_too_small(snap_compare, demo: Path):
    assert snap_compare(editor(demo), terminal_size=(50, 12), run_before=after_loading())


def test_generate_panel_at_80x24(snap_compare, demo: Path):
    """Below 100 columns the side panels are tabs: `t` three times shows Generate whole, beside 12 code columns."""
    assert snap_compare(editor(demo), terminal_size=(80, 24), run_before=after_loading("t", "t", "t"))
