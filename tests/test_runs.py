"""Run folders and the event reader: states from events and pids, truncated and interleaved logs, fast attach."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distill_tui.errors import BadInputError
from distill_tui.train import launcher
from distill_tui.train.events import EventLog, tail_events
from distill_tui.train.runs import CRASHED, EMPTY, FINISHED, RUNNING, STOPPED, discover, pid_alive, summarize
from distill_tui.tui.event_feed import EventFollower


def write_events(run_dir: Path, *events: dict, tail: bytes = b"") -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "events.jsonl"
    with path.open("ab") as fh:
        for i, ev in enumerate(events):
            fh.write(json.dumps({"time": 1000.0 + i, **ev}).encode() + b"\n")
        fh.write(tail)
    return path


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ---------------------------------------------------------------- the follower (the feed thread's reader)
def test_follower_waits_for_a_half_written_line(tmp_path: Path):
    path = write_events(tmp_path, {"event": "start", "step": 0}, tail=b'{"event": "step", "time": 2.0, "st')
    f = EventFollower(path)
    events, reset = f.poll()
    assert [e["event"] for e in events] == ["start"] and not reset
    with path.open("ab") as fh:
        fh.write(b'ep": 5}\n')
    events, _ = f.poll()
    assert events == [{"event": "step", "time": 2.0, "step": 5}]
    assert f.poll() == ([], False)


def test_follower_skips_garbage_from_interleaved_writers(tmp_path: Path):
    path = write_events(tmp_path, {"event": "start", "step": 0})
    f = EventFollower(path)
    f.poll()
    a, b = EventLog(tmp_path), EventLog(tmp_path)  # two writers: the trainer and its error handler
    a.emit("step", step=1)
    with path.open("ab") as fh:
        fh.write(b'{"event": "step", "step": 2, "lo')  # a writer killed mid-line
    b.emit("error", message="boom")  # the next writer closes the broken line first
    a.emit("step", step=3)
    with path.open("ab") as fh:
        fh.write(b"not json at all\n[1, 2]\n")
    events, _ = f.poll()
    assert [(e["event"], e.get("step")) for e in events] == [("step", 1), ("error", None), ("step", 3)]
    assert f.bad_lines == 3
    assert [e["event"] for e in tail_events(path)] == ["start", "step", "error", "step"]


def test_follower_starts_again_when_the_log_is_truncated(tmp_path: Path):
    path = write_events(tmp_path, {"event": "start"}, {"event": "step", "step": 1}, {"event": "step", "step": 2})
    f = EventFollower(path)
    assert len(f.poll()[0]) == 3
    path.write_text(json.dumps({"event": "start", "time": 1}) + "\n")
    events, reset = f.poll()
    assert reset and [e["event"] for e in events] == ["start"]


def test_attach_to_100k_events_reads_only_the_tail(tmp_path: Path):
    line = {"event": "step", "loss": 1.2345, "recon_db": 6.789, "commit": 0.0123, "lr": 0.001, "steps_per_s": 10.0,
            "elapsed_s": 1.0, "progress": 0.5, "batch_size": 16, "batch_utilization": [0.5, 0.5, 0.5]}
    path = tmp_path / "events.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps({"event": "start", "time": 0, "step": 0}) + "\n")
        for i in range(100_000):
            fh.write(json.dumps({**line, "time": i, "step": i + 1}) + "\n")
    t0 = time.perf_counter()
    f = EventFollower(path, tail_bytes=1 << 20)
    events, _ = f.poll()
    took = time.perf_counter() - t0
    assert events[-1]["step"] == 100_000 and 1000 < len(events) < 10_000
    assert f.skipped_bytes > 0 and took < 1.0
    t0 = time.perf_counter()
    s = summarize(tmp_path)
    assert s.step == 100_000 and time.perf_counter() - t0 < 1.0


# ---------------------------------------------------------------- states
def test_states_from_events_and_pids(tmp_path: Path):
    done = tmp_path / "done"
    write_events(done, {"event": "start", "step": 0}, {"event": "step", "step": 9, "progress": 0.9},
                 {"event": "done", "step": 10, "output": str(tmp_path / "m.distill")})
    (done / "run.json").write_text(json.dumps({"data_dir": "/x", "output": str(tmp_path / "m.distill")}))
    s = summarize(done)
    assert s.state == FINISHED and s.progress == 1.0 and s.output.endswith("m.distill") and not s.model_ready

    stopped = tmp_path / "stopped"
    write_events(stopped, {"event": "start"}, {"event": "step", "step": 3}, {"event": "stopped", "step": 3, "signal": "SIGTERM"})
    (stopped / "checkpoint.safetensors").write_bytes(b"x")
    s = summarize(stopped)
    assert s.state == STOPPED and s.checkpoint == stopped / "checkpoint.safetensors" and "resume" in s.message
    assert s.message == "stopped at step 3 on request; resume continues it"  # it said "(SIGTERM)"
    # a prior stopped during its check runs said "stopped at step 0 …; resume continues it", and a resume ran the
    # checks again from the first (found by stopping `train-prior` after 25 s)
    checking = tmp_path / "checking"
    write_events(checking, {"event": "start", "step": 0, "folds": 5, "prior": {}}, {"event": "fold", "step": 0, "fold": 1},
                 {"event": "stopped", "step": 0, "signal": "SIGTERM"}, {"event": "resume", "step": 0},
                 {"event": "stopped", "step": 0, "signal": "SIGINT"})
    assert summarize(checking).message == ("stopped by Ctrl-C while checking the prior on held-out sounds; "
                                           "resume starts the checks again")

    resumed = tmp_path / "resumed"
    write_events(resumed, {"event": "start"}, {"event": "stopped", "step": 3}, {"event": "resume", "step": 3})
    (resumed / "trainer.pid").write_text(f"{os.getpid()}\n")  # a live process
    assert summarize(resumed).state == RUNNING

    error = tmp_path / "error"
    write_events(error, {"event": "start"}, {"event": "error", "message": "out of memory"})
    s = summarize(error)
    assert s.state == CRASHED and s.message == "out of memory"

    silent = tmp_path / "silent"
    write_events(silent, {"event": "start"}, {"event": "step", "step": 7})
    (silent / "trainer.pid").write_text(f"{dead_pid()}\n")
    s = summarize(silent)
    assert s.state == CRASHED and "without a word after step 7" in s.message

    never = tmp_path / "never"
    never.mkdir()
    (never / "trainer.pid").write_text(f"{dead_pid()}\n")
    (never / "trainer.err").write_text("some noise\nerror: /x: no usable audio files (0 found)\n")
    s = summarize(never)
    assert s.state == CRASHED and "no usable audio" in s.message

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "run.json").write_text('{"data_dir": "/x", "outp')  # cut off while written
    s = summarize(empty)
    assert s.state == EMPTY and s.problems and "cut off" in s.problems[0]


def test_discover_lists_the_root_and_extra_folders(tmp_path: Path):
    root = tmp_path / "runs"
    write_events(root / "a", {"event": "start"})
    (root / "not-a-run").mkdir()
    extra = write_events(tmp_path / "elsewhere", {"event": "start"}).parent
    names = [r.name for r in discover([extra], root)]
    assert sorted(names) == ["a", "elsewhere"]


def test_pid_alive():
    assert pid_alive(os.getpid()) and not pid_alive(dead_pid()) and not pid_alive(None)


# ---------------------------------------------------------------- the launcher
def test_launcher_command_and_resume_from_run_json(tmp_path: Path, monkeypatch):
    spec = launcher.TrainSpec(data_dir=Path("sounds"), output=tmp_path / "m.distill", run_dir=tmp_path / "r",
                              steps=10, levels=2, codebook_size=16, stride=4)
    args = spec.args()
    assert args[:2] == ["train", str(Path("sounds").resolve())] and "--quiet" in args
    assert args[args.index("--codebook-size") + 1] == "16" and "--minutes" not in args
    prior = launcher.PriorSpec(model=tmp_path / "m.distill", run_dir=tmp_path / "p", steps=5).args()
    assert prior[0] == "train-prior" and prior[prior.index("--steps") + 1] == "5"
    assert not launcher.stop(tmp_path / "r")  # nothing runs there
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "run.json").write_text(json.dumps({"data_dir": "/d", "output": "/o.distill"}))
    assert launcher._args_from_run_json(tmp_path / "r")[:4] == ["train", "/d", "-o", "/o.distill"]  # noqa: SLF001
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    a, b = launcher.new_run_dir("m"), launcher.new_run_dir("m")
    assert a.parent == tmp_path / "state" / "distill-tui" / "runs" and a.name.startswith("m-")
    a.mkdir(parents=True)
    assert launcher.new_run_dir("m") != a and b == a


def test_launch_refuses_a_live_run_and_writes_its_pid(tmp_path: Path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "trainer.pid").write_text(f"{os.getpid()}\n")
    spec = launcher.TrainSpec(data_dir=tmp_path, output=tmp_path / "m.distill", run_dir=run)
    with pytest.raises(BadInputError, match="already running"):
        launcher.launch(spec)


def test_feed_thread_buffers_a_flood_and_posts_one_collapsible_message_per_look(tmp_path: Path):
    from distill_tui.tui.event_feed import EventFeed, FeedUpdated

    class Target:
        def __init__(self) -> None:
            self.posted: list[FeedUpdated] = []

        def post_message(self, message: FeedUpdated) -> bool:
            self.posted.append(message)
            return True

    path = write_events(tmp_path, {"event": "start", "step": 0})
    target = Target()
    feed = EventFeed(tmp_path, target, interval=0.05)  # type: ignore[arg-type]
    feed.start()
    try:
        with path.open("a") as fh:
            for i in range(2000):
                fh.write(json.dumps({"event": "step", "time": 1.0, "step": i + 1}) + "\n")
        deadline = time.time() + 10
        events: list[dict] = []
        while time.time() < deadline and (not events or events[-1]["step"] != 2000):
            time.sleep(0.05)
            events += feed.drain().events
    finally:
        feed.stop()
        feed.join(2)
    assert events[0]["event"] == "start" and [e["step"] for e in events[1:]] == list(range(1, 2001))
    assert 1 <= len(target.posted) < 50  # one message per look at the file, not one per event
    a, b = target.posted[0], FeedUpdated(tmp_path)
    assert b.can_replace(a) and not b.can_replace(FeedUpdated(tmp_path / "other"))


def test_a_trainer_started_from_the_command_line_is_found_without_a_pid_file(tmp_path: Path, monkeypatch):
    run = tmp_path / "m.distill.run"
    write_events(run, {"event": "start", "step": 0}, {"event": "step", "step": 3})
    monkeypatch.chdir(tmp_path)
    # stands in for `distill-tui train DATA -o m.distill` (default run folder) and `... --run DIR`
    fake = [sys.executable, "-c", "import time; time.sleep(30)", "distill_tui", "train", "data", "-o", "m.distill"]
    p = subprocess.Popen(fake, cwd=tmp_path)
    other = tmp_path / "elsewhere"
    write_events(other, {"event": "start", "step": 0})
    q = subprocess.Popen([*fake[:6], "--run", "elsewhere"], cwd=tmp_path)
    try:
        deadline = time.time() + 10
        while time.time() < deadline and (summarize(run).pid, summarize(other).pid) != (p.pid, q.pid):  # exec'd
            time.sleep(0.05)
        s = summarize(run)
        assert s.pid == p.pid and s.state == RUNNING
        assert summarize(other).pid == q.pid
    finally:
        p.kill()
        q.kill()
        p.wait()
        q.wait()
    assert summarize(run).state == CRASHED
