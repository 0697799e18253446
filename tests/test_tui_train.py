"""The training screens through a pilot: a real tiny training started, watched, stopped, resumed and opened; bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill_tui.train.runs import FINISHED, STOPPED
from distill_tui.tui.app import DistillApp
from distill_tui.tui.screens.file_picker import PathPicker
from distill_tui.tui.screens.run_view import RunViewScreen
from distill_tui.tui.screens.runs import RunsScreen
from distill_tui.tui.screens.train import TrainScreen, column_ms

from .test_tui_support import RecordingRouter, aio, until

SIZE = (110, 32)
SLOW = 300.0  # seconds: a trainer's start imports torch; on a loaded 2-core machine that alone can take a minute


@pytest.fixture
def state(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "state" / "distill-tui" / "runs"


def bare_app() -> DistillApp:
    return DistillApp(None, [], router=RecordingRouter())


def screen_text(app: DistillApp) -> str:
    return "\n".join(s.text for s in app.screen._compositor.render_strips())  # noqa: SLF001


@aio
async def test_train_watch_stop_resume_and_open(dataset: Path, tiny_toml: Path, state: Path):
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        train = TrainScreen(dataset, browse_root=dataset.parent)
        app.push_screen(train)
        await until(pilot, lambda: train.report is not None, what="the folder scan")
        assert train.report.files == 6 and "6 sounds," in screen_text(app)
        for name, value in (("steps", "60"), ("config", str(tiny_toml)), ("output", "tiny.distill"),
                            ("device", "cpu")):
            train.query_one(f"#set-{name}").value = value
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, RunViewScreen), what="the run view")
        view: RunViewScreen = app.screen  # type: ignore[assignment]
        assert view.run_dir.parent == state and (view.run_dir / "trainer.pid").exists()
        assert os.getsid(view.process.pid) != os.getsid(0)  # its own session: a closed terminal does not stop it

        # events arrive: the first step draws the loss curve; then stop (the trainer saves and exits)
        await until(pilot, lambda: len(view.recon.xs) >= 1, timeout=SLOW, what="the first step event")
        await pilot.press("s")
        await until(pilot, lambda: view.state == STOPPED and view.alive is False, timeout=SLOW, what="the stop")
        assert (view.run_dir / "checkpoint.safetensors").exists()
        stopped_at = view.step
        assert "Press r to resume" in view.state_message()

        # resume: the same run continues from its checkpoint to the end, health bars fill in
        await pilot.press("r")
        await until(pilot, lambda: "resume" in view.last, timeout=SLOW, what="the resume event")
        assert view.last["resume"]["step"] == stopped_at
        await until(pilot, lambda: view.state == FINISHED, timeout=SLOW, what="the end of training")
        assert view.step == 60 and view.health_shown_at is not None
        assert (Path.cwd() / "tiny.distill").exists()
        assert "The model is trained" in view.state_message() and "Stage" not in view.state_message()

        # open the model in the editor
        await pilot.press("o")
        editor = app.editor
        await until(pilot, lambda: app.screen is editor and editor.engine is not None, timeout=SLOW,
                    what="the editor on the new model")
        assert editor.engine.path == Path.cwd() / "tiny.distill"

        # the runs list shows the finished run; enter attaches to it again
        await pilot.press("ctrl+t")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, what="the runs list")
        assert app.screen.runs[0].state == FINISHED
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, RunViewScreen) and app.screen.state == FINISHED,
                    what="attaching to the finished run")

        # stage 2 from here: the prior's own run starts, shows its events, and stops cleanly
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, RunViewScreen) and app.screen.stage == "prior",
                    what="the prior's run view")
        prior: RunViewScreen = app.screen  # type: ignore[assignment]
        # the first of its check runs on held-out sounds (the final run's first step comes after all of them: 90 s
        # of this test's 107 went on waiting for it); a musician may stop it there as well
        await until(pilot, lambda: "fold" in prior.last, timeout=SLOW, what="the prior's first check run")
        assert "Checking the prior on sounds it did not train on: part" in prior.state_message()
        await pilot.press("s")
        await until(pilot, lambda: prior.state == STOPPED and prior.alive is False, timeout=SLOW, what="the prior's stop")
        # its checks are not kept: it said "Press r to resume where it stopped", and a resume ran them again
        assert "Press r to start the checks again" in prior.state_message()
        assert json.loads((prior.run_dir / "launch.json").read_text())["stage"] == "prior"


@aio
async def test_a_folder_without_audio_says_what_to_do(tmp_path: Path, state: Path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no sounds here")
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        train = TrainScreen(tmp_path / "empty", browse_root=tmp_path)
        app.push_screen(train)
        await until(pilot, lambda: "Nothing to train on" in train.found_text, what="the scan's verdict")
        assert "no usable audio files" in train.found_text and "Choose a folder" in train.found_text
        await pilot.press("ctrl+t")  # refused: nothing was found
        assert isinstance(app.screen, TrainScreen) and not state.exists()


@aio
async def test_a_folder_of_sounds_opened_as_the_model_starts_on_the_training_form(dataset: Path, state: Path):
    app = DistillApp(None, [], router=RecordingRouter(), train_folder=dataset)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, TrainScreen), what="the training form")
        train: TrainScreen = app.screen  # type: ignore[assignment]
        await until(pilot, lambda: train.report is not None, what="the folder scan")
        assert train.report.files == 6 and "6 sounds," in screen_text(app)
        # a few seconds of audio in all read "0.06 minutes"
        seconds = f"{train.report.minutes * 60:.1f} seconds in total"
        assert seconds in screen_text(app) and "minutes in total" not in screen_text(app)
        # "stride 4" alone: a column's length in time is what a musician can weigh
        assert f"a column every {column_ms(train.report.defaults['stride']):.0f} ms (stride" in train.found_text
        assert any("a column every 46 ms, sharper attacks" in str(why.render()) for why in train.query(".why"))
        await pilot.press("escape")  # back to the (empty) editor
        await until(pilot, lambda: not isinstance(app.screen, TrainScreen), what="the editor")
        # it said "no model: distill-tui open MODEL [AUDIO ...]", a shell command inside the editor
        await until(pilot, lambda: "'Train a model…' on your sounds" in screen_text(app), what="what to do next")


@aio
async def test_a_trainer_that_fails_says_why(tmp_path: Path, state: Path):
    """A real trainer on a folder without audio: its error event reaches the run view."""
    from distill_tui.train import launcher

    (tmp_path / "nothing").mkdir()
    started = launcher.launch(launcher.TrainSpec(data_dir=tmp_path / "nothing", output=tmp_path / "m.distill",
                                                 run_dir=state / "fails", steps=5))
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        view = RunViewScreen(started.run_dir)
        view.process = started.process
        app.push_screen(view)
        await until(pilot, lambda: view.state == "crashed" and view.alive is False, timeout=SLOW, what="the failure")
        text = view.state_message()
        assert "no usable audio files" in text and "No checkpoint was written" in text


@aio
async def test_start_up_announces_runs_in_progress(tmp_path: Path, state: Path):
    from distill_tui.tui.screens.runs import announce_runs

    live = make_run(state / "live", ev(event="start", step=0), ev(event="step", step=12), pid=os.getpid())
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        announce_runs(app, state, headless_too=True)
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        assert any("live (step 12)" in n.message for n in app._notifications)  # noqa: SLF001
    assert live.exists()


def make_run(folder: Path, *lines: bytes, pid: int | None = None, checkpoint: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_bytes(b"".join(lines))
    (folder / "run.json").write_text(json.dumps({"data_dir": "/sounds", "output": str(folder / "m.distill")}))
    if pid:
        (folder / "trainer.pid").write_text(f"{pid}\n")
    if checkpoint:
        (folder / "checkpoint.safetensors").write_bytes(b"not really")
    return folder


def ev(**fields) -> bytes:  # noqa: ANN003
    return (json.dumps({"time": 1.0, **fields}) + "\n").encode()


@aio
async def test_crashed_and_half_written_runs_offer_the_checkpoint(tmp_path: Path, state: Path):
    crashed = make_run(state / "crashed", ev(event="start", step=0, model={"codebook_sizes": [16, 16], "levels": 2}),
                       ev(event="step", step=4, recon_db=20.0, commit=0.1, progress=0.1, elapsed_s=2.0),
                       b"garbage line\n", ev(event="error", message="RuntimeError: out of memory"))
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    silent = make_run(state / "silent", ev(event="start", step=0), ev(event="step", step=7, recon_db=9.0, commit=0.1),
                      b'{"event": "step", "st', pid=p.pid)
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RunViewScreen(crashed))
        await until(pilot, lambda: "Training failed" in screen_text(app), what="the crash message")
        text = app.screen.state_message()
        assert "out of memory" in text and "checkpoint" in text and "press r" in text
        assert app.screen.check_action("resume", ()) is True
        app.pop_screen()
        app.push_screen(RunViewScreen(silent))
        await until(pilot, lambda: "Training failed" in screen_text(app), what="the silent exit")
        assert "without a word after step 7" in app.screen.state_message()
        assert app.screen.step == 7  # the half-written line is ignored
        app.pop_screen()
        app.push_screen(RunsScreen())
        await until(pilot, lambda: len(getattr(app.screen, "runs", [])) == 2, what="the runs list")
        assert {r.state for r in app.screen.runs} == {"crashed"}
    assert os.path.exists(crashed / "checkpoint.safetensors")


# ---------------------------------------------------------------- snapshot (files in tests/snapshots/)


def test_train_screen_snapshot(snap_compare, tmp_path: Path, monkeypatch):
    from distill_tui.tui.themes import REPO_THEMES

    from .conftest import write_dataset

    work = tmp_path / "work"
    write_dataset(work / "sounds")
    sf.write(work / "sounds" / "silence.wav", np.zeros(4410, dtype=np.float32), 22050)  # skipped: all silent
    monkeypatch.chdir(work)
    app = DistillApp(None, [], router=RecordingRouter(), theme="distill-dark", theme_dirs=[REPO_THEMES])

    async def run_before(pilot) -> None:  # noqa: ANN001
        screen = TrainScreen(Path("sounds"), browse_root=Path("."))
        pilot.app.push_screen(screen)
        await until(pilot, lambda: screen.report is not None, what="the scan")
        picker = screen.query_one(PathPicker)
        await until(pilot, lambda: "in it and below" in picker.message, what="the picker's count (a thread)")
        for field in screen.query("Input"):
            field.cursor_blink = False  # the cursor is always drawn: the frame does not depend on timing
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 32), run_before=run_before)


@aio
async def test_each_run_takes_one_line_of_the_runs_list_at_100_columns(tmp_path: Path, state: Path):
    """Found by hand: at 100 x 30 "stopped at step 93 (SIGTERM); resume continues it" wrapped onto a second line
    of the list, under the next run's state column. A long line now ends in an ellipsis."""
    make_run(state / "pd5-20261201-110824", ev(event="start", step=0), ev(event="step", step=93),
             ev(event="stopped", step=93, signal="SIGTERM"))
    make_run(state / "pd20-20261201-183845", ev(event="start", step=0), ev(event="step", step=33))
    app = bare_app()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(RunsScreen())
        await until(pilot, lambda: len(getattr(app.screen, "runs", [])) == 2, what="the runs list")
        await pilot.pause()
        lines = [line for line in screen_text(app).splitlines()
                 if line.startswith("▊") and line.strip("▊▎ ") and not set("▔▁") & set(line)]  # the list's rows
        stopped = [line for line in lines if "pd5-" in line]
        assert stopped and "…" in stopped[0], lines
        assert len(lines) == 2, lines  # one line a run, nothing wrapped
    app = bare_app()
    async with app.run_test(size=(80, 24)) as pilot:  # the names' column is as wide as the names: the message shows
        app.push_screen(RunsScreen())
        await until(pilot, lambda: len(getattr(app.screen, "runs", [])) == 2, what="the runs list")
        await pilot.pause()
        assert "stopped at" in screen_text(app)  # before: the padded names left room for "…" alone


@aio
async def test_the_form_refuses_minutes_that_never_end(dataset: Path, state: Path):
    """Minutes of "nan" passed the form's "at least 0.01" check and "inf" any check: the trainer started and ran without end."""
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        train = TrainScreen(dataset, browse_root=dataset.parent)
        app.push_screen(train)
        await until(pilot, lambda: train.report is not None, what="the folder scan")
        train.query_one("#set-output").value = "never.distill"
        for minutes, said in (("nan", "minutes must be at least 0.01"), ("inf", "at most 10080 (a week)"),
                              ("1e12", "at most 10080 (a week)")):
            app.clear_notifications()
            train.query_one("#set-minutes").value = minutes
            await pilot.press("ctrl+t")
            await pilot.pause()
            notes = [n.message for n in app._notifications]  # noqa: SLF001
            assert isinstance(app.screen, TrainScreen) and len(notes) == 1 and said in notes[0], (minutes, notes)
        assert not state.exists()  # no run was started


@aio
async def test_a_second_model_on_the_same_sounds_gets_a_name_that_replaces_nothing(dataset: Path, state: Path):
    """The form offered `sounds.distill` again after a first training on the same folder, and ctrl+t said
    "sounds.distill already exists: give another file name": the musician had to find the field and type one."""
    (Path.cwd() / f"{dataset.name}.distill").write_bytes(b"a model trained before")
    (Path.cwd() / f"{dataset.name}-2.distill").write_bytes(b"and another")
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        train = TrainScreen(dataset, browse_root=dataset.parent)
        app.push_screen(train)
        await until(pilot, lambda: train.report is not None, what="the folder scan")
        assert train.query_one("#set-output").value == f"{dataset.name}-3.distill"
        assert train.spec().output == Path(f"{dataset.name}-3.distill")  # accepted as it is



def test_a_finished_run_says_the_model_it_made():
    """The runs list read "finished  kit-… model step 346 ██████████ finished at step 346": the state and the step
    twice, and not the model file, which is what a person goes looking for."""
    from distill_tui.train.runs import CRASHED, FINISHED, RunSummary
    from distill_tui.tui.screens.runs import run_line

    done = RunSummary(Path("/runs/kit-20261202"), FINISHED, "model", 346, 1.0, output="/sounds/kit.distill",
                      message="finished at step 346")
    prior = RunSummary(Path("/runs/kit-prior"), FINISHED, "prior", 600, 1.0, output="/sounds/kit.distill",
                       message="finished at step 600")
    failed = RunSummary(Path("/runs/kit-x"), CRASHED, "model", 12, 0.1, output="/sounds/kit.distill",
                        message="RuntimeError: out of memory")
    assert run_line(done).plain.endswith("made kit.distill · 346 steps") and "finished at step" not in run_line(done).plain
    assert run_line(prior).plain.endswith("added to kit.distill · 600 steps")
    # at 80 columns (76 inside the list) "made kit.…" was cut behind a full progress bar: a finished row has none
    named = RunSummary(Path("/runs/kit-prior-20261202-142206"), FINISHED, "prior", 600, 1.0,
                       output="/sounds/kit.distill", message="finished at step 600")
    assert len(run_line(named, len(named.path.name)).plain) <= 76 and "█" not in run_line(named, 25).plain
    assert "█" in run_line(failed).plain  # a run that did not finish still shows how far it got
    assert run_line(failed).plain.endswith("RuntimeError: out of memory")


@aio
async def test_an_empty_form_trains_for_five_minutes_not_four_thousand_steps(dataset: Path, state: Path, tmp_path: Path):
    """The form's default was 4,000 steps: about 26 minutes on a 2-core laptop, where the README's command says
    `--minutes 5`, and a steps budget keeps the full-width network that 5 minutes cannot train there."""
    budget = tmp_path / "budget.toml"
    budget.write_text("[train]\nsteps = 300\n")
    other = tmp_path / "other.toml"
    other.write_text("[model]\nlevels = 2\n")
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        train = TrainScreen(dataset, browse_root=dataset.parent)
        app.push_screen(train)
        await until(pilot, lambda: train.report is not None, what="the folder scan")
        assert "5 minutes of training" in train.found_text
        assert train.query_one("#set-minutes").placeholder == "5"
        spec = train.spec()
        assert (spec.steps, spec.minutes) == (None, 5.0) and spec.args()[spec.args().index("--minutes") + 1] == "5.0"
        train.query_one("#set-steps").value = "800"  # steps typed: steps decide
        assert (train.spec().steps, train.spec().minutes) == (800, None)
        train.query_one("#set-steps").value = ""
        train.query_one("#set-config").value = str(budget)  # a config file's own budget stands
        assert (train.spec().steps, train.spec().minutes) == (None, None)
        train.query_one("#set-config").value = str(other)  # a config without one: the form's minutes
        assert train.spec().minutes == 5.0
        other.write_text("[train\n")
        with pytest.raises(ValueError, match="not valid TOML"):
            train.spec()
