"""The shared training runner: checkpoint format, old run folders, typed events, faults (full disk, temp files,
locks, unwritable folders, truncated checkpoints, failed setups), and the final model write that can be retried."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from distill_tui.cli import main
from distill_tui.errors import BadInputError, OutputError
from distill_tui.persistence.model_file import load_model_file, save_model_file
from distill_tui.train import prior_loop, vqvae_loop
from distill_tui.train.checkpoint import CHECKPOINT, Checkpoint, read_checkpoint, write_checkpoint
from distill_tui.train.events import KINDS, EventLog, parse_event, read_events
from distill_tui.train.prior_loop import PriorRequest, PriorTrainConfig, train_prior
from distill_tui.train.state import Budget, Schedule, TrainerState
from distill_tui.train.vqvae_loop import train_vqvae

from .test_train import tiny_request

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TRAIN_DIR = Path(vqvae_loop.__file__).parent
PRIOR_FAST = {"d_model": 32, "layers": 1, "context": 8}


def kinds(run: Path) -> list[str]:
    return [e["event"] for e in read_events(run)]


def prior_request(model: Path, run: Path, dataset: Path, steps: int = 6) -> PriorRequest:
    tc = PriorTrainConfig(steps=steps, eval_every=3, augment=False, generated_grids=2)
    return PriorRequest(model_path=model, run_dir=run, data_dir=dataset, train=tc, prior_overrides=dict(PRIOR_FAST))


# ---------------------------------------------------------------- state, schedule, checkpoint format
def test_trainer_state_round_trips_and_refuses_nonsense():
    st = TrainerState(step=7, elapsed_s=1.5, lr_scale=0.5, best=3.25, evals_since_best=2, data_dir="/x",
                      stage={"history": [{"step": 3}]})
    assert TrainerState.from_dict(json.loads(json.dumps(st.to_dict()))) == st
    assert TrainerState.from_dict({"step": 3, "someday": 1}).step == 3  # keys of a newer version are ignored
    with pytest.raises((TypeError, ValueError)):
        TrainerState.from_dict({"step": "many"})


def test_budget_and_schedule():
    assert Budget(steps=100).progress(50, 1e9) == 0.5
    assert Budget(steps=10**9, minutes=1.0).progress(5, 30.0) == 0.5
    s = Schedule(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert s.rate(0, 0.0) == pytest.approx(1e-4) and s.rate(9, 0.1) == pytest.approx(1e-3)
    assert s.rate(50, 1.0) == pytest.approx(1e-4) and s.rate(50, 1.0, scale=0.5) == pytest.approx(5e-5)


def test_the_cpu_clock_divides_each_interval_by_the_thread_count_of_its_time(monkeypatch):
    from distill_tui.train import state as state_mod

    cpu = iter([10.0, 12.0, 13.0, 13.5])  # process CPU seconds at each look
    monkeypatch.setattr(state_mod.time, "process_time", lambda: next(cpu))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        clock = state_mod.make_clock("cpu")  # looks once: 10.0
        assert clock() == pytest.approx(1.0)  # 2 CPU s on 2 threads
        torch.set_num_threads(1)
        assert clock() == pytest.approx(2.0)  # then 1 CPU s on one thread
        assert clock() == pytest.approx(2.5)
    finally:
        torch.set_num_threads(before)


def test_checkpoint_round_trip_and_a_truncated_one_says_move_it_aside(tmp_path):
    path = tmp_path / CHECKPOINT
    w = torch.arange(6.0).reshape(2, 3)
    write_checkpoint(path, Checkpoint("model", TrainerState(step=3), {"model": {"n": 1}},
                                      {"model": {"w": w}, "best": {"w": w}}, [{"lr": 0.1}]))
    ck = read_checkpoint(path, "model")
    assert ck.state.step == 3 and torch.equal(ck.group("best")["w"], w) and ck.optim_groups == [{"lr": 0.1}]
    with pytest.raises(BadInputError, match="trains a VQ-VAE"):
        read_checkpoint(path, "prior")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadInputError, match="move the run folder aside") as err:
        read_checkpoint(path, "model")
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- events
def test_event_kinds_match_what_the_loops_emit():
    emitted = set()
    for src in TRAIN_DIR.glob("*.py"):
        emitted |= set(re.findall(r'emit\(\s*"(\w+)"', src.read_text()))
    assert emitted and emitted <= set(KINDS), emitted - set(KINDS)
    assert {"ready", "stopped", "codebook", "error"} <= emitted
    with pytest.raises(ValueError, match="unknown event"):
        EventLog(Path("/nonexistent")).emit("stepp", step=1)


def test_the_reader_validates():
    assert parse_event({"event": "step", "time": 1, "step": 4, "loss": 0.5})["loss"] == 0.5
    for bad in ({"event": "step", "time": 1}, {"event": "step", "step": 4}, {"event": "warning", "time": 1},
                {"event": "nonsense", "time": 1}, {"event": "eval", "time": 1, "step": "4"}, [1, 2]):
        with pytest.raises(ValueError):
            parse_event(bad)


# ---------------------------------------------------------------- old run folders
def test_an_old_stage_1_run_folder_is_refused_in_one_line(dataset, tmp_path, capsys):
    run = tmp_path / "m.distill.run"
    run.mkdir()
    # what the previous version left: a model-file checkpoint with the trainer's state in its document
    save_model_file(run / "checkpoint.distill", {"spectrogram": {}, "model": {}, "trainer": {"step": 12, "finished": False}},
                    {"vqvae": {"w": torch.zeros(3)}, "optim": {"0.step": torch.tensor(12.0)}})
    (run / "events.jsonl").write_text(json.dumps({"event": "start", "time": 1.0, "step": 0}) + "\n")
    rc = main(["train", str(dataset), "-o", str(tmp_path / "m.distill"), "--steps", "5", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "older Distill" in err and "move it aside or pass --run DIR" in err
    assert (run / "checkpoint.distill").exists() and not (tmp_path / "m.distill").exists()


def test_an_old_prior_run_folder_is_refused_in_one_line(tiny_model, tmp_path, capsys):
    from safetensors.torch import save_file

    model = tmp_path / "m.distill"
    shutil.copyfile(tiny_model, model)
    run = tmp_path / "m.distill.prior-run"
    run.mkdir()
    state = {"vqvae_fingerprint": load_model_file(model).fingerprint, "step": 5, "elapsed_s": 1.0, "config": {},
             "train": {}, "history": []}
    save_file({"prior.w": torch.zeros(2), "best.w": torch.zeros(2)}, str(run / "prior-checkpoint.safetensors"),
              metadata={"distill-prior-run": json.dumps(state)})
    rc = main(["train-prior", str(model), "--steps", "5", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "older Distill" in err and "--run DIR" in err
    assert load_model_file(model).doc.get("prior") is None


# ---------------------------------------------------------------- faults
def test_a_failed_final_write_keeps_the_finished_training_and_running_again_writes_it(dataset, tmp_path, monkeypatch):
    real = vqvae_loop.save_model_file

    def full_disk(path, doc, tensors):
        if Path(path).name == "m.distill":
            raise OutputError("could not write the model file (No space left on device)", path)
        return real(path, doc, tensors)

    monkeypatch.setattr(vqvae_loop, "save_model_file", full_disk)
    req = tiny_request(dataset, tmp_path, steps=12)
    with pytest.raises(OutputError) as err:
        train_vqvae(req)
    msg = str(err.value)
    assert "could not be written" in msg and "No space left" in msg and "run the same command again" in msg
    assert "\n" not in msg and not req.output.exists()
    errors = [e for e in read_events(req.run_dir) if e["event"] == "error"]
    assert errors and "could not be written" in errors[-1]["message"]
    ck = read_checkpoint(req.run_dir / CHECKPOINT, "model")
    assert ck.state.finished and ck.state.step == 12 and ck.final_tensors()["vqvae"]

    monkeypatch.setattr(vqvae_loop, "save_model_file", real)
    before = kinds(req.run_dir)
    res = train_vqvae(tiny_request(dataset, tmp_path, steps=12))
    assert res.status == "done" and res.step == 12 and req.output.exists()
    after = kinds(req.run_dir)[len(before):]
    assert after == ["done"]  # written from the finished checkpoint: no training, no evaluation again
    doc = load_model_file(req.output).doc
    assert doc["training"]["steps"] == 12 and doc["health"]["utilization"]
    assert res.fingerprint == load_model_file(req.output).fingerprint


def test_a_failed_prior_write_is_written_by_running_again(tiny_model, dataset, tmp_path, monkeypatch):
    model = tmp_path / "m.distill"
    shutil.copyfile(tiny_model, model)
    real = prior_loop.save_model_file

    def full_disk(*args, **kw):
        raise OutputError("could not write the model file (No space left on device)", model)

    monkeypatch.setattr(prior_loop, "save_model_file", full_disk)
    with pytest.raises(OutputError, match="run the same command again to write it"):
        train_prior(prior_request(model, tmp_path / "run", dataset))
    assert load_model_file(model).doc.get("prior") is None
    monkeypatch.setattr(prior_loop, "save_model_file", real)
    res = train_prior(prior_request(model, tmp_path / "run", dataset))
    assert res.status == "done" and res.step == 6 and res.report is not None
    prior = load_model_file(model).doc["prior"]
    assert prior["training"]["steps"] == 6 and prior["verdict"] == res.report.verdict
    assert res.train_files == prior["data"]["train_files"] > 0


def test_temp_files_of_a_killed_write_are_removed(dataset, tmp_path):
    req = tiny_request(dataset, tmp_path, steps=3)
    req.run_dir.mkdir()
    stale = [req.run_dir / ".checkpoint.safetensors.x1y2.tmp", req.run_dir / ".checkpoint.distill.abc.tmp",
             req.run_dir / ".best.distill.q.tmp", req.run_dir / ".prior-checkpoint.safetensors.k3j"]
    for p in stale:
        p.write_bytes(b"half")
    assert train_vqvae(req).status == "done"
    assert not [p.name for p in req.run_dir.iterdir() if p.name.startswith(".")]


def test_a_live_trainer_holds_the_run_folder(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"fh = open({str(run / 'run.lock')!r}, 'a+')\n"
        "fcntl.flock(fh, fcntl.LOCK_EX)\n"
        "fh.seek(0); fh.truncate(); fh.write('%d\\n' % __import__('os').getpid()); fh.flush()\n"
        "print('locked', flush=True)\n"
        "time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc = main(["train", str(dataset), "-o", str(tmp_path / "m.distill"), "--run", str(run), "--steps", "2", "--quiet"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and f"PID {holder.pid}" in err
        assert not (run / "events.jsonl").exists()  # the live run's log is not touched
    finally:
        holder.kill()
        holder.wait()
    # the holder died: its lock went with it, the next trainer takes the folder over
    req = tiny_request(dataset, tmp_path, steps=2)
    assert train_vqvae(req).status == "done"
    assert (run / "run.lock").read_text().split()[0] == str(os.getpid())
    with (run / "run.lock").open() as fh:  # and it let go when it finished
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_an_unwritable_output_folder_is_found_before_training(dataset, tmp_path, monkeypatch, capsys):
    out_dir = tmp_path / "locked"
    out_dir.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == out_dir else real(p, mode))
    run = tmp_path / "run"
    rc = main(["train", str(dataset), "-o", str(out_dir / "m.distill"), "--run", str(run), "--steps", "2", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "not writable" in err
    assert not run.exists()  # failed at setup, in a folder this call made: nothing left behind
    rc = main(["train", str(dataset), "-o", str(out_dir / "m.distill"), "--steps", "2", "--quiet"])  # default run folder
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "not writable" in err
    assert not (out_dir / "m.distill.run").exists()


def test_an_unwritable_run_folder_is_one_line(dataset, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    rc = main(["train", str(dataset), "-o", str(tmp_path / "m.distill"), "--run", str(tmp_path / "afile" / "run"),
               "--steps", "2", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "cannot write the run folder" in err


def test_a_truncated_checkpoint_says_to_move_the_run_folder_aside(dataset, tmp_path, capsys):
    req = tiny_request(dataset, tmp_path, steps=2)
    train_vqvae(req)
    ck = req.run_dir / CHECKPOINT
    ck.write_bytes(ck.read_bytes()[:1000])
    rc = main(["train", str(dataset), "-o", str(req.output), "--run", str(req.run_dir), "--steps", "2", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "move the run folder aside" in err


def test_a_failed_setup_leaves_no_run_folder_it_made(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for data in (tmp_path / "empty", tmp_path / "missing"):
        rc = main(["train", str(data), "-o", str(tmp_path / "m.distill"), "--steps", "2", "--quiet"])
        assert rc == 2 and capsys.readouterr().err.startswith("error:")
        assert not (tmp_path / "m.distill.run").exists()
    # a folder that was there before (the TUI's launcher makes it) keeps the error for the run view
    pre = tmp_path / "pre"
    pre.mkdir()
    assert main(["train", str(tmp_path / "empty"), "-o", str(tmp_path / "m.distill"), "--run", str(pre), "--quiet"]) == 2
    assert kinds(pre) == ["error"]


def test_train_prior_takes_a_clock():
    import argparse

    from distill_tui.commands import train_prior as cmd

    parser = argparse.ArgumentParser()
    cmd.register(parser.add_subparsers())
    args = parser.parse_args(["train-prior", "m.distill", "--minutes", "2", "--clock", "cpu"])
    assert cmd.build_request(args).train.clock == "cpu"


# ---------------------------------------------------------------- the loop itself, with a stage of its own
class ToyStage:
    """The smallest stage: a line fitted to y = 2x; validation can ask to stop at a given step."""

    name = "model"
    threads_governed = False

    def __init__(self, runner_dir: Path, stop_at: int | None = None, signal_at: int | None = None) -> None:
        from distill_tui.train.runner import Runner

        self.runner = Runner(self, runner_dir, EventLog(runner_dir))
        self.stop_at, self.signal_at = stop_at, signal_at
        torch.manual_seed(0)
        self.model = torch.nn.Linear(1, 1)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.1)

    def check_resumable(self, ckpt):
        pass

    def setup(self, ckpt):
        if ckpt is not None:
            self.model.load_state_dict(ckpt.group("model"))

    def loop_config(self):
        from distill_tui.train.state import LoopConfig

        return LoopConfig(Budget(steps=20), Schedule(0.1, 2, 0.1), eval_every=2, checkpoint_every_s=1e9)

    def on_train_start(self, fresh):
        pass

    def training_step(self, lr):
        if self.runner.state.step == self.signal_at:
            self.runner.request_stop("SIGTERM")
        x = torch.randn(8, 1)  # (batch, 1)
        self.loss = ((self.model(x) - 2 * x) ** 2).mean()
        self.optimizer.zero_grad()
        self.loss.backward()
        self.optimizer.step()
        return True

    def step_fields(self):
        return {"loss": round(float(self.loss.detach()), 4)}

    def validation(self, progress):
        return self.runner.state.step == self.stop_at

    def checkpoint_info(self):
        return {}

    def stage_state(self):
        return {}

    def best_tensors(self):
        return self.model.state_dict()

    def finish(self, stopped_by):
        from distill_tui.train.runner import FinalModel

        return FinalModel({"stopped_by": stopped_by}, {"line": self.model.state_dict()})

    def write_model(self, final, again):
        self.runner.log.emit("done", step=self.runner.state.step, stopped_by=final.doc["stopped_by"])
        return ("done", self.runner.state.step, final.doc["stopped_by"], again)

    def stopped_result(self):
        return ("stopped", self.runner.state.step)


def test_the_loop_rate_limits_step_events_and_says_why_it_stopped(tmp_path, monkeypatch):
    import types

    from distill_tui.train import runner as runner_mod

    now = {"t": 1000.0}

    def tick():
        now["t"] += 0.3  # every look at the clock is 0.3 s later
        return now["t"]

    monkeypatch.setattr(runner_mod, "time", types.SimpleNamespace(time=tick))
    assert ToyStage(tmp_path / "a").runner.run() == ("done", 20, "budget", False)
    steps = [e["step"] for e in read_events(tmp_path / "a") if e["event"] == "step"]
    assert steps[0] == 1 and 3 <= len(steps) < 20  # step 1, then about one a second
    assert ToyStage(tmp_path / "b", stop_at=6).runner.run() == ("done", 6, "early-stop", False)
    assert ToyStage(tmp_path / "c", signal_at=4).runner.run() == ("stopped", 5)  # the step under way completes
    ev = list(read_events(tmp_path / "c"))
    assert [e["event"] for e in ev][-2:] == ["checkpoint", "stopped"] and ev[-1]["signal"] == "SIGTERM"
    assert ToyStage(tmp_path / "c").runner.run() == ("done", 20, "budget", False)  # resumed at step 5
    assert [e["step"] for e in read_events(tmp_path / "c") if e["event"] == "ready"] == [0, 5]
    assert ToyStage(tmp_path / "c").runner.run() == ("done", 20, "budget", True)  # finished: written again


class StallingStage(ToyStage):
    """A CPU stage whose steps take ten times as long on two threads as on one, as bfloat16 steps do on a
    busy 2-core machine."""

    threads_governed = True

    def loop_config(self):
        from distill_tui.train.state import LoopConfig

        return LoopConfig(Budget(steps=60), Schedule(0.1, 2, 0.1), eval_every=1000, checkpoint_every_s=1e9)

    def training_step(self, lr):
        import time

        self.threads_seen.append(torch.get_num_threads())
        time.sleep(0.05 if torch.get_num_threads() > 1 else 0.005)
        return super().training_step(lr)


def test_the_loop_trains_on_one_thread_while_two_are_slower_and_says_so(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        stage = StallingStage(tmp_path / "a")
        stage.threads_seen = []
        assert stage.runner.run() == ("done", 60, "budget", False)
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert after == 2  # what comes after the loop runs on the count it was given
    said = [e for e in read_events(tmp_path / "a") if e["event"] == "threads"]
    assert [e["threads"] for e in said] == [1] and said[0]["step"] == 24
    assert "training on 1 thread" in said[0]["message"] and said[0]["step_cost_s"] < said[0]["other_cost_s"]
    assert stage.threads_seen[:20] == [2] * 20 and stage.threads_seen[24:] == [1] * 36
