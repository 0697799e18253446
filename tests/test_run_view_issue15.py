"""Issue 15: a run started from the command line is stopped from the run view (via its run folder's lock);
the health panel shows the step events' per-batch code use until the first evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from distill_tui.train import launcher
from distill_tui.train.runfolder import LOCK_FILE, RunFolder
from distill_tui.train.runs import RUNNING, STOPPED
from distill_tui.tui.screens.run_view import RunViewScreen
from distill_tui.tui.widgets.loss_chart import _fmt

from .test_tui_support import aio, until
from .test_tui_train import SIZE, SLOW, bare_app, ev, make_run, screen_text


def test_lock_holder_is_only_a_live_holder(tmp_path: Path):
    from distill_tui.train.runfolder import lock_holder

    folder = RunFolder(tmp_path / "run")
    folder.open()
    try:
        assert lock_holder(folder.path) == os.getpid()
    finally:
        folder.close()
    assert lock_holder(folder.path) is None  # released: the PID still in the file is stale
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder.path / LOCK_FILE).write_text(f"{sleeper.pid}\n")  # a live process that holds no lock
        assert lock_holder(folder.path) is None
        assert launcher.stop(folder.path) is False
        time.sleep(0.2)
        assert sleeper.poll() is None  # never signalled
    finally:
        sleeper.kill()
        sleeper.wait()
    assert lock_holder(tmp_path / "nowhere") is None


@aio
async def test_a_run_started_from_the_command_line_stops_from_the_run_view(dataset: Path, tiny_toml: Path,
                                                                           tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run_dir = tmp_path / "cli.run"
    cmd = [sys.executable, "-m", "distill_tui.cli", "train", str(dataset), "-o", str(tmp_path / "cli.distill"),
           "--run", str(run_dir), "--steps", "1000000", "--config", str(tiny_toml), "--device", "cpu", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        app = bare_app()
        async with app.run_test(size=SIZE) as pilot:
            events = run_dir / "events.jsonl"
            await until(pilot, lambda: events.exists() and b'"event": "step"' in events.read_bytes()
                        or proc.poll() is not None, timeout=SLOW, what="the trainer's first step")
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert not (run_dir / "trainer.pid").exists()  # not launched by the TUI
            view = RunViewScreen(run_dir)
            app.push_screen(view)
            await until(pilot, lambda: view.state == RUNNING and view.alive is True, what="the running state")
            await pilot.press("s")
            notes = [n.message for n in app._notifications]  # noqa: SLF001
            assert "asked the trainer to save and stop" in notes, notes
            await until(pilot, lambda: proc.poll() is not None, timeout=SLOW, what="the trainer's exit")
            await until(pilot, lambda: view.state == STOPPED, timeout=SLOW, what="the stopped state")
        kinds = [json.loads(line).get("event") for line in events.read_text().splitlines() if line.strip()]
        assert "stopped" in kinds
        assert (run_dir / "checkpoint.safetensors").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


@aio
async def test_health_shows_the_batch_use_until_the_first_evaluation(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = make_run(tmp_path / "early", ev(event="start", step=0, model={"codebook_sizes": [16, 32], "levels": 2}),
                   ev(event="step", step=1, recon_db=20.0, commit=0.1, progress=0.01, elapsed_s=1.0,
                      batch_utilization=[0.25, 0.125]),
                   ev(event="step", step=9, recon_db=15.0, commit=0.1, progress=0.05, elapsed_s=4.0,
                      batch_utilization=[0.5, 0.75]),
                   pid=os.getpid(), checkpoint=False)
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        view = RunViewScreen(run)
        app.push_screen(view)
        # the panel's new lines can be painted a frame before its height grows to show them all
        await until(pilot, lambda: "this batch" in screen_text(app) and " of 32 used" in screen_text(app),
                    what="the batch's code use, every level")
        text = screen_text(app)
        assert "waiting for the first evaluation" not in text
        assert "50% of 16" in text and "75% of 32" in text  # the latest step's figures
        assert view.health_shown_at is None  # no whole-dataset health yet
        with (run / "events.jsonl").open("ab") as fh:
            fh.write(ev(event="health", step=20, utilization=[0.9, 0.8], perplexity=[12.0, 20.0],
                        dead_codes=[1, 4]))
            fh.write(ev(event="step", step=21, recon_db=14.0, commit=0.1, batch_utilization=[0.1, 0.1]))
        await until(pilot, lambda: view.health_shown_at is not None, what="the first health event")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "this batch" not in text and "90% used" in text  # the evaluation's figures replace the batch's


@aio
async def test_the_run_view_says_when_training_moves_to_one_thread(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    said = ("training on 1 thread while other programs use the CPU: a step costs 0.25 s, against 2.90 s on 2")
    run = make_run(tmp_path / "busy", ev(event="start", step=0, model={"codebook_sizes": [16], "levels": 1}),
                   ev(event="step", step=30, recon_db=15.0, commit=0.1, progress=0.1, elapsed_s=9.0),
                   ev(event="threads", step=24, threads=1, step_cost_s=0.25, other_cost_s=2.9, message=said),
                   pid=os.getpid(), checkpoint=False)
    app = bare_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(RunViewScreen(run))
        await until(pilot, lambda: "training on 1 thread" in screen_text(app), what="the thread count's message")


@aio
async def test_resume_shows_in_the_footer_once_a_stopped_trainer_has_exited(tmp_path: Path, monkeypatch):
    """Found by hand in tmux: after `s`, the "stopped" event came while the trainer was still exiting, the footer
    was worked out then (no resume while it lives) and never again, so "Press r to resume" had no `r` under it."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run = make_run(tmp_path / "stopping", ev(event="start", step=0, model={"codebook_sizes": [16], "levels": 1}),
                       ev(event="step", step=46, recon_db=15.0, commit=0.1, progress=0.01, elapsed_s=20.0),
                       ev(event="stopped", step=46, signal="SIGTERM"), pid=trainer.pid)
        app = bare_app()
        async with app.run_test(size=SIZE) as pilot:
            view = RunViewScreen(run)
            app.push_screen(view)
            await until(pilot, lambda: view.alive is True and "Press r" in screen_text(app), what="the stopped run")
            await pilot.pause(0.2)
            assert "resume" not in screen_text(app).splitlines()[-1]  # the trainer still lives
            trainer.kill()
            trainer.wait()
            await until(pilot, lambda: view.alive is False, what="the trainer's exit")
            await until(pilot, lambda: "r resume" in screen_text(app).splitlines()[-1], what="r in the footer")
    finally:
        trainer.kill()
        trainer.wait()


@aio
async def test_at_90_columns_each_chart_keeps_its_legend_on_one_line_and_both_labels(tmp_path: Path, monkeypatch):
    """At 90 x 28 the gap chart's legend wrapped: its latest value ("0.028") sat on the row of the axis's top
    label ("0.215"), reading as two labels, and the bottom row with the lowest label was pushed out of sight."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    steps = [ev(event="step", step=i, recon_db=30.0 - i / 10, commit=0.2 - i / 2000, progress=i / 400, elapsed_s=i / 5)
             for i in range(1, 240, 4)]
    run = make_run(tmp_path / "kit", ev(event="start", step=0, model={"codebook_sizes": [64, 64], "levels": 2}),
                   *steps, ev(event="eval", step=200, val_db=6.27), pid=os.getpid(), checkpoint=False)
    app = bare_app()
    async with app.run_test(size=(90, 28)) as pilot:
        view = RunViewScreen(run)
        app.push_screen(view)
        await until(pilot, lambda: view.step >= 237, what="the events")
        await pilot.pause(0.2)
        for chart_id in ("#loss-chart", "#commit-chart"):
            chart = view.query_one(chart_id)
            rows = [s.text for s in chart.render_lines(chart.region.reset_offset)]
            latest = [_fmt(s.ys[-1]) for s in chart.series if s.ys]
            lowest = _fmt(min(y for s in chart.series for y in s.ys))
            legend = rows[0] if "━" in rows[0] else rows[1]  # under the title when both do not fit one row
            assert all(v in legend for v in latest), rows  # the legend, whole, on one row
            assert rows[-1].split()[0] == lowest, rows  # the lowest label on the last row


@aio
async def test_a_finished_run_shows_its_average_pace_not_its_last_interval(tmp_path: Path, monkeypatch):
    """The last step event's interval holds the final check: a run that trained at 5.8 steps/s read 0.83."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = make_run(tmp_path / "done", ev(event="start", step=0, model={"codebook_sizes": [64, 64], "levels": 2}),
                   ev(event="step", step=341, recon_db=4.0, commit=0.1, progress=0.94, elapsed_s=56.3, steps_per_s=6.37),
                   ev(event="step", step=346, recon_db=4.0, commit=0.1, progress=0.97, elapsed_s=58.4, steps_per_s=0.83),
                   ev(event="done", step=346, elapsed_s=60.0, output=str(tmp_path / "m.distill")), checkpoint=False)
    app = bare_app()
    async with app.run_test(size=(80, 24)) as pilot:
        view = RunViewScreen(run)
        app.push_screen(view)
        await until(pilot, lambda: "took 1:00" in screen_text(app), what="the finished run's status")
        lines = screen_text(app).splitlines()
        assert "5.77 steps/s on average   took 1:00" in lines[1] and "0.83" not in "\n".join(lines)
        assert "2 levels × 64 codes" in lines[2]  # the pace and the time on one line: at 80 columns it wrapped


@aio
async def test_the_trainers_advice_names_the_forms_fields_not_flags(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = make_run(tmp_path / "kit", ev(event="start", step=0, model={"codebook_sizes": [64, 64], "levels": 2}),
                   ev(event="step", step=10, recon_db=9.0, commit=0.1, progress=0.5, elapsed_s=2.0),
                   ev(event="warning", step=10, message="level 2 changes the sound by only 0.02 dB, so its row holds little to edit: with 1 level "
                      "(--levels 1) the grid is smaller, but trained as long the sound comes out no closer"),
                   ev(event="warning", step=10, message="level 1 uses only 40% of its 64 codes: fewer codes per "
                      "level (--codebook-size 32) or more sounds would fill it"),
                   pid=os.getpid(), checkpoint=False)
    app = bare_app()
    async with app.run_test(size=(140, 40)) as pilot:
        view = RunViewScreen(run)
        app.push_screen(view)
        await until(pilot, lambda: any("changes the sound by only" in str(w.render()) for w in view.query("#run-warnings")),
                    what="the warnings")
        text = str(view.query_one("#run-warnings").render())
        assert "--levels" not in text and "--codebook-size" not in text
        assert "(Levels 1 in the training form)" in text and "(Codes per level 32 in the training form)" in text
