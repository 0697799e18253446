"""A model without a prior, in the editor: what it says, training the prior from the palette, and taking the new
prior up when it is done, with the open sounds kept."""

# ruff: noqa: F811 - the state fixture is imported and taken as an argument
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile as sf

from distill_tui.train import launcher
from distill_tui.tui.app import DistillApp
from distill_tui.tui.screens.run_view import RunViewScreen
from distill_tui.tui.widgets.generate_panel import GeneratePanel

from .conftest import SR, synth
from .test_tui_support import RecordingRouter, aio, until
from .test_tui_train import SIZE, ev, make_run, screen_text, state  # noqa: F401 - the state fixture


@pytest.fixture
def started(monkeypatch) -> list[launcher.PriorSpec]:
    """The trainers the editor starts, recorded instead of run."""
    specs: list[launcher.PriorSpec] = []
    monkeypatch.setattr(launcher, "launch", lambda spec, env=None: specs.append(spec) or launcher.Launched(
        pid=2**22 + 1, run_dir=Path(spec.run_dir)))
    return specs


def editor_on(model: Path, tmp_path: Path, copy_as: str | None = None) -> DistillApp:
    """The editor on `model` (or on a copy of it named `copy_as` in `tmp_path`) and one pad sound."""
    if copy_as is not None:
        model = Path(shutil.copy(model, tmp_path / copy_as))
    sound = tmp_path / "pad.wav"
    sf.write(sound, synth("pad", 1.0), SR)
    return DistillApp(model, [sound], router=RecordingRouter())


async def editor_ready(pilot, app: DistillApp):  # noqa: ANN001, ANN201
    """The editor once its model and its sound are in."""
    ed = app.editor
    await until(pilot, lambda: ed.engine is not None and ed.ws.a is not None, what="the model and the sound")
    return ed


def messages(app: DistillApp) -> str:
    return " | ".join(n.message for n in app._notifications)  # noqa: SLF001


@aio
async def test_without_a_prior_the_editor_offers_to_train_one_and_takes_it_up(tiny_model: Path, prior_model: Path,
                                                                               tmp_path: Path, state: Path, started):
    """It said "cannot generate: this model has no prior (this model has no prior: run `distill-tui train-prior
    MODEL`)": a shell command, twice the words, and nothing in the editor could train one."""
    model = tmp_path / "kit.distill"
    app = editor_on(tiny_model, tmp_path, copy_as=model.name)
    async with app.run_test(size=SIZE) as pilot:
        ed = await editor_ready(pilot, app)
        note = str(ed.query_one(GeneratePanel).query_one("#gen-note").content)
        assert "no prior yet" in note and "Train the prior…" in note, note
        await pilot.press("ctrl+g")
        await until(pilot, lambda: "cannot generate" in messages(app), what="the refusal")
        assert "Train the prior…" in messages(app) and "distill-tui" not in messages(app)
        assert messages(app).count("no prior") == 1

        commands = {c.title: c.callback for c in app.get_system_commands(ed)}
        commands["Train the prior…"]()
        await until(pilot, lambda: isinstance(app.screen, RunViewScreen), what="the prior's run view")
        assert app.screen.stage == "prior" and started[0].model == model
        assert started[0].data_dir == Path(ed.engine.doc.dataset.root)  # the folder the model was trained on
        await pilot.pause()
        text = screen_text(app)
        assert "the prior leaves the" in text and "stage 2" not in text, text  # it said "stage 2: the prior"
        app.pop_screen()

        # the trainer writes the prior into the model file; its finished run's `o` takes it up, sounds kept
        shutil.copy(prior_model, model)
        run = make_run(tmp_path / "kit-prior", ev(event="start", step=0), ev(event="done", step=10, output=str(model)))
        view = RunViewScreen(run)
        view.stage = "prior"
        app.push_screen(view)
        await until(pilot, lambda: "Press o to use it in the editor" in view.state_message()
                    and view.check_action("open_model", ()), what="the finished run")
        names = set(ed.ws.sounds)
        await pilot.press("o")
        await until(pilot, lambda: ed.engine.prior is not None, what="the new prior")
        await until(pilot, lambda: "the new prior is in use" in messages(app), what="the word")
        assert app.screen is ed and set(ed.ws.sounds) == names
        assert str(ed.query_one(GeneratePanel).query_one("#gen-note").content) == ""


@aio
async def test_when_the_sounds_folder_has_moved_training_the_prior_asks_where_it_is(tiny_model: Path, tmp_path: Path,
                                                                                     state: Path, started, monkeypatch):
    """The trainer failed in the run view with "the folder the model was trained on (kit) is gone: give DATA_DIR"."""
    from distill_tui.tui.screens.file_picker import FilePickerScreen

    app = editor_on(tiny_model, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        ed = app.editor
        await until(pilot, lambda: ed.engine is not None and ed.ws.a is not None, what="the model and the sound")
        monkeypatch.setattr(ed.engine.doc.dataset, "root", str(tmp_path / "moved" / "kit"))
        {c.title: c.callback for c in app.get_system_commands(ed)}["Train the prior…"]()
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen), what="the question")
        assert "is gone" in app.screen.title_text and not started
        await pilot.pause()
        app.screen.dismiss(tmp_path)  # the folder, where it is now
        await until(pilot, lambda: isinstance(app.screen, RunViewScreen), what="the prior's run view")
        assert started[0].data_dir == tmp_path


def test_a_prior_that_cannot_be_used_says_how_to_make_a_new_one(tiny_model: Path, monkeypatch):
    """A prior trained on another VQ-VAE said only "… run `distill-tui train-prior MODEL` again" in the editor."""
    from distill_tui.errors import ModelFileError
    from distill_tui.inference import generate, session

    def stale(path):  # noqa: ANN001, ANN202
        raise ModelFileError("its prior was trained on another VQ-VAE: run `distill-tui train-prior MODEL` again", path)

    monkeypatch.setattr(generate.Prior, "from_model_file", staticmethod(stale))
    engine = session.InferenceSession.load(tiny_model)
    assert engine.prior is None and engine.prior_error.startswith("its prior cannot be used (its prior was trained")
    assert engine.prior_error.endswith(": then 'Train the prior…' makes a new one")

