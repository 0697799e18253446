"""Issue 15, item 5: after training, `o` opens the new model with its training sounds; unsaved edits in the editor
are saved, discarded or kept (Cancel) as the user chooses, never a dead refusal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from distill_tui.codes.grid import CodeGrid
from distill_tui.inference import session as session_module
from distill_tui.tui.app import DistillApp
from distill_tui.tui.screens.confirm_unsaved import UnsavedScreen
from distill_tui.tui.screens.run_view import RunViewScreen

from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS, RecordingRouter, aio, copy_demo, decoded, until

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")

SIZE = (110, 32)
TRAINED_ON = ("kick_deep.wav", "snare.wav", "pad_am.wav")


@pytest.fixture(scope="module")
def loaded_engine(tmp_path_factory):
    return session_module.InferenceSession.load(copy_demo(tmp_path_factory.mktemp("demo")))


@pytest.fixture
def world(tmp_path: Path, monkeypatch, loaded_engine) -> dict[str, Path]:
    """The editor's model, a finished run whose model is another copy of the demo, and the run's sounds folder."""
    monkeypatch.chdir(tmp_path)
    real_load = session_module.InferenceSession.load
    monkeypatch.setattr(session_module.InferenceSession, "load",
                        staticmethod(lambda p: loaded_engine if Path(p).name.endswith(".distill") else real_load(p)))
    (tmp_path / "editor").mkdir()
    editor_model = copy_demo(tmp_path / "editor")
    sounds = tmp_path / "trained-on"
    sounds.mkdir()
    for name in TRAINED_ON:
        shutil.copy(DEMO_SOUNDS / name, sounds / name)
    new_model = tmp_path / "new.distill"
    shutil.copy(DEMO_MODEL, new_model)
    run = tmp_path / "state" / "new.run"
    run.mkdir(parents=True)
    events = [{"event": "start", "step": 0, "time": 1.0}, {"event": "done", "step": 60, "time": 2.0,
                                                            "output": str(new_model)}]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run / "run.json").write_text(json.dumps({"data_dir": str(sounds), "output": str(new_model)}))
    return {"editor_model": editor_model, "new_model": new_model, "run": run, "sounds": sounds}


async def edited_app(pilot, app: DistillApp) -> None:
    editor = app.editor
    await until(pilot, lambda: editor.engine is not None and len(editor.ws.sounds) == 1 and decoded(editor),
                what="the editor's sound")
    await pilot.press("i", "2", "a", "escape")
    assert editor.ws.dirty_names() == ["pluck_a2"]


async def open_from_run_view(pilot, app: DistillApp, run: Path) -> RunViewScreen:
    view = RunViewScreen(run)
    app.push_screen(view)
    await until(pilot, lambda: view.state == "finished", what="the finished run")
    await pilot.press("o")
    await until(pilot, lambda: isinstance(app.screen, UnsavedScreen), what="the unsaved-edits question")
    return view


async def opened_with_training_sounds(pilot, app: DistillApp, new_model: Path) -> None:
    editor = app.editor
    await until(pilot, lambda: app.screen is editor and editor.model_path == new_model
                and sorted(editor.ws.names()) == sorted(Path(n).stem for n in TRAINED_ON), what="the hand-off")
    assert editor.ws.a == "kick_deep" and editor.ws.b == "pad_am"  # sorted: the first in A, the next in B
    assert editor.ws.dirty_names() == [] and "new.distill" in str(editor.query_one("#title").render())


@aio
async def test_cancel_keeps_the_edits_then_discard_opens_the_new_model_with_its_sounds(world):
    app = DistillApp(world["editor_model"], [DEMO_SOUNDS / "pluck_a2.wav"], router=RecordingRouter())
    async with app.run_test(size=SIZE) as pilot:
        await edited_app(pilot, app)
        view = await open_from_run_view(pilot, app, world["run"])
        question = str(app.screen.query_one("#unsaved-question").render())
        assert "pluck_a2" in question and "pluck_a2.codes.json (new file)" in question
        await pilot.press("escape")  # Cancel: back on the run view, nothing changed
        await until(pilot, lambda: app.screen is view, what="the run view again")
        assert app.editor.ws.dirty_names() == ["pluck_a2"] and app.editor.model_path == world["editor_model"]
        await pilot.press("o", "d")  # Discard
        await opened_with_training_sounds(pilot, app, world["new_model"])
        assert not (Path.cwd() / "pluck_a2.codes.json").exists()


@aio
async def test_save_all_writes_the_edits_then_opens_the_new_model(world):
    (Path.cwd() / "pluck_a2.codes.json").write_text("someone else's file")  # taken: Save all writes beside it
    app = DistillApp(world["editor_model"], [DEMO_SOUNDS / "pluck_a2.wav"], router=RecordingRouter())
    async with app.run_test(size=SIZE) as pilot:
        await edited_app(pilot, app)
        edited = app.editor.ws.grid("pluck_a2").codes.copy()
        await open_from_run_view(pilot, app, world["run"])
        await pilot.press("s")  # Save all
        await opened_with_training_sounds(pilot, app, world["new_model"])
    assert (Path.cwd() / "pluck_a2.codes.json").read_text() == "someone else's file"
    saved = CodeGrid.load(Path.cwd() / "pluck_a2-2.codes.json")
    assert (saved.codes == edited).all()


@aio
async def test_a_clean_editor_opens_the_new_model_without_asking(world):
    app = DistillApp(world["editor_model"], [DEMO_SOUNDS / "pluck_a2.wav"], router=RecordingRouter())
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await until(pilot, lambda: editor.engine is not None and len(editor.ws.sounds) == 1, what="the sound")
        app.push_screen(RunViewScreen(world["run"]))
        await until(pilot, lambda: app.screen.state == "finished", what="the finished run")
        await pilot.press("o")
        await opened_with_training_sounds(pilot, app, world["new_model"])
