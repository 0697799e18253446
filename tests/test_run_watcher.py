"""The app says when a training run ends, wherever the person is: the first hour's five-minute training ended
while they tried the demo in the editor, and nothing said the model was ready."""

# ruff: noqa: F811 - the state fixture is imported and taken as an argument
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from distill_tui.train.runs import summarize
from distill_tui.tui.app import DistillApp
from distill_tui.tui.screens.run_view import RunViewScreen
from distill_tui.tui.screens.runs import RunWatcher, ended_words

from .test_tui_support import RecordingRouter, aio, until
from .test_tui_train import SIZE, ev, make_run, state  # noqa: F401 - the state fixture


def said(app: DistillApp) -> str:
    return " | ".join(n.message for n in app._notifications)  # noqa: SLF001


@aio
async def test_a_run_that_ends_is_announced_once_wherever_the_person_is(state: Path, tmp_path: Path):
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    prior_trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        kit = make_run(state / "kit-20261202", ev(event="start", step=0), ev(event="step", step=5, progress=0.1),
                       pid=trainer.pid)
        (kit / "run.json").write_text(f'{{"data_dir": "/sounds", "output": "{tmp_path / "kit.distill"}"}}')
        prior = make_run(state / "kit-prior-20261202", ev(event="start", step=0), pid=prior_trainer.pid)
        (prior / "run.json").write_text(f'{{"stage": "prior", "model": "{tmp_path / "kit.distill"}"}}')
        app = DistillApp(None, [], router=RecordingRouter())
        async with app.run_test(size=SIZE) as pilot:
            watcher = RunWatcher(app, every=0.2)
            watcher.start(headless_too=True)
            await until(pilot, lambda: watcher.going == {kit, prior}, what="both runs seen going")
            assert "trained" not in said(app)

            with (kit / "events.jsonl").open("a") as fh:  # the trainer writes "done" and exits
                fh.write(ev(event="done", step=40).decode())
            trainer.kill()
            trainer.wait()
            await until(pilot, lambda: "kit.distill is trained: ctrl+t, Enter, then o opens it" in said(app),
                        what="the announcement")

            view = RunViewScreen(prior)  # its own view is on screen: it says so itself
            app.push_screen(view)
            await pilot.pause()
            prior_trainer.kill()
            prior_trainer.wait()
            await until(pilot, lambda: watcher.going == set(), what="the prior's end seen")
            await pilot.pause(0.5)
            assert said(app).count("is trained") == 1 and "failed" not in said(app)
    finally:
        for p in (trainer, prior_trainer):
            p.kill()


def test_the_words_for_each_way_a_run_ends(state: Path, tmp_path: Path):
    out = tmp_path / "kit.distill"
    done = make_run(state / "a", ev(event="start", step=0), ev(event="done", step=9))
    (done / "run.json").write_text(f'{{"output": "{out}"}}')
    assert ended_words(summarize(done)) == ("kit.distill is trained: ctrl+t, Enter, then o opens it in the editor.",
                                            "information")
    stopped = make_run(state / "b", ev(event="start", step=0), ev(event="stopped", step=12, signal="SIGTERM"))
    assert ended_words(summarize(stopped)) == ("Training b stopped at step 12: ctrl+t, Enter, then r resumes it.",
                                               "warning")
    crashed = make_run(state / "c", ev(event="start", step=0), ev(event="error", message="out of memory"))
    assert ended_words(summarize(crashed)) == ("Training c failed: out of memory. ctrl+t shows the run.", "error")


def test_quiet_runs_are_not_read_again_until_their_files_change(state: Path, monkeypatch):
    """Every old run of a runs folder was summarized every 3 s, each one started from the shell costing a scan
    of /proc for its process."""
    import distill_tui.tui.screens.runs as runs_module

    for i in range(5):
        make_run(state / f"old{i}", ev(event="start", step=0), ev(event="done", step=9))
    read: list[Path] = []
    real = runs_module.summarize
    monkeypatch.setattr(runs_module, "summarize", lambda folder, tail=0: read.append(folder) or real(folder, tail))
    watcher = RunWatcher(app=None)
    assert watcher.look() == [] and len(read) == 5
    read.clear()
    assert watcher.look() == [] and read == []  # nothing changed: nothing read
    with (state / "old3" / "events.jsonl").open("a") as fh:  # resumed from the shell, say
        fh.write(ev(event="resume", step=9).decode())
    watcher.look()
    assert read == [state / "old3"]


def test_quitting_says_which_runs_go_on_training(state: Path, monkeypatch, capsys):
    """Quitting the editor while a model trained said nothing: a musician could take it for stopping the run."""
    import distill_tui.tui.app as app_module
    from distill_tui.cli import main
    from distill_tui.tui.screens.runs import still_training

    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    late = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        make_run(state / "kit", ev(event="start", step=0), ev(event="step", step=120, progress=0.4), pid=trainer.pid)
        make_run(state / "old", ev(event="start", step=0), ev(event="done", step=9))
        watcher = RunWatcher(app=None)
        watcher.read()
        make_run(state / "late", ev(event="start", step=0), pid=late.pid)  # started after the last look
        assert still_training(watcher) == [
            "kit is still training (step 120, 40%): it goes on without the editor; `distill-tui`, then ctrl+t, shows it",
            "late is still training (step 0): it goes on without the editor; `distill-tui`, then ctrl+t, shows it"]
        assert still_training(None) == [] and still_training(RunWatcher(app=None)) == []  # never looked: nothing

        class Quits:  # the editor, quit at once, its watcher having looked
            def __init__(self, *args, **kwargs) -> None:
                self.run_watcher = watcher

            def run(self) -> None:
                return None

        monkeypatch.setattr(app_module, "DistillApp", Quits)
        assert main(["open"]) == 0
        assert "kit is still training (step 120, 40%)" in capsys.readouterr().out
    finally:
        trainer.kill()
        late.kill()
