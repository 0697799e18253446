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


# ---------------------------------------------------------------- A/B against the original (the `a` key)


def test_closeness_words_and_thresholds():
    from distill_tui.tui.ab_listen import closeness, verdict

    assert [closeness(d).word for d in (0.0, 1.99, 2.0, 6.0, 6.01, 30.0)] == \
        ["close", "close", "changed", "changed", "rough", "rough"]
    line = verdict(closeness(1.4), "the original recording", closeness(5.0))
    assert line.startswith("close: your version and the original recording are 1.4 dB apart (before any edit: 5.0 dB")
    assert line.endswith("under 2 dB reads close, over 6 rough")
    assert verdict(closeness(7.0), "the sound as it was opened", None).startswith("rough: your version and the sound")


def test_player_starts_part_way_and_reports_the_whole_sound_position():
    import numpy as np

    from distill_tui.tui.player import Player

    class Host:
        def notify(self, *a, **k): ...  # noqa: ANN002, ANN003, D102, E704
        def run_worker(self, fn, **k): fn()  # noqa: ANN001, ANN003, D102, E704
        def set_interval(self, *a): return None  # noqa: ANN002, D102, E704
        def post_message(self, m): return True  # noqa: ANN001, D102, E704

    class At(RecordingRouter):
        position = 0.25

    router, seen = At(), []
    player = Player(Host(), router, on_position=lambda s: seen.append(s) or True, on_end=lambda: None)
    player.play(np.arange(22050, dtype=np.float32), 22050, "x", start_s=0.5, what="original")
    assert router.played[0][0][0] == 11025 and len(router.played[0][0]) == 11025
    assert player.position == 0.75 and player.what == "original"
    player._tick()  # noqa: SLF001
    assert seen == [0.75]


class ClockRouter(RecordingRouter):
    """A router whose sound is 0.5 s in while anything plays (so A/B switches mid-sound)."""

    @property
    def position(self) -> float | None:
        return 0.5 if self.played else None


def ab_notes(app: DistillApp) -> list[str]:
    return [n.message for n in app._notifications if n.title.startswith("A/B")]  # noqa: SLF001


@aio
async def test_a_plays_the_recording_then_switches_back_to_the_edit_at_the_same_moment(world):
    from distill_tui.data.dataset import load_named_audio

    router = ClockRouter()
    app = DistillApp(world["editor_model"], [DEMO_SOUNDS / "pluck_a2.wav"], router=router)
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await until(pilot, lambda: editor.engine is not None and len(editor.ws.sounds) == 1 and decoded(editor),
                    what="the sound")
        await pilot.press("a")  # not playing: the original recording from its start
        await until(pilot, lambda: len(router.played) == 1, what="the original playing")
        rate = editor.ws.grid("pluck_a2").sample_rate
        recording = load_named_audio(DEMO_SOUNDS / "pluck_a2.wav", rate).samples
        samples, played_rate, name = router.played[0]
        assert name == "pluck_a2 (original)" and played_rate == rate and (samples == recording).all()
        note = ab_notes(app)[-1]
        assert "the original recording" in note and "before any edit" in note
        assert editor.ab_last.word in ("close", "changed", "rough") and f"{editor.ab_last.lsd_db:.1f} dB" in note
        await pilot.press("a")  # playing the original: back to the edit, 0.5 s in
        await until(pilot, lambda: len(router.played) == 2, what="the edit again")
        edit = editor.ws.sound("pluck_a2").audition.audio
        assert router.played[1][2] == "pluck_a2" and len(router.played[1][0]) == len(edit) - int(0.5 * rate)
        await pilot.press("a")  # and to the original again, at the same moment: 0.5 s into a clip that began at 0.5 s
        await until(pilot, lambda: len(router.played) == 3, what="the original again")
        assert len(router.played[2][0]) == len(recording) - int(1.0 * rate)


@aio
async def test_a_on_a_codes_file_compares_with_the_sound_as_opened(world):
    app = DistillApp(world["editor_model"], [DEMO_SOUNDS / "pluck_a2.wav"], router=RecordingRouter())
    async with app.run_test(size=SIZE) as pilot:
        editor = app.editor
        await until(pilot, lambda: editor.engine is not None and len(editor.ws.sounds) == 1, what="the sound")
        codes = Path.cwd() / "take.codes.json"
        editor.ws.grid("pluck_a2").save(codes)
        editor.loader.load_files(editor.engine, [codes], "A")
        await until(pilot, lambda: len(editor.ws.sounds) == 2 and editor.ws.a != "pluck_a2" and decoded(editor),
                    what="the codes file, in A")
        assert editor.ws.sound(editor.ws.a).audio_path is None
        await pilot.press("a")
        await until(pilot, lambda: len(ab_notes(app)) == 1, what="the first A/B")
        assert editor.ab_last.word == "close" and "the sound as it was opened" in ab_notes(app)[0]
        await pilot.press("V", "r", "j", "V", "r")  # re-roll the two coarsest levels
        await until(pilot, lambda: decoded(editor), what="the edit's decode")
        await pilot.press("a")
        await until(pilot, lambda: len(ab_notes(app)) == 2, what="the second A/B")
        assert editor.ab_last.word in ("changed", "rough") and editor.ab_last.lsd_db > 2.0
