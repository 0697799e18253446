"""Stage-1 training: events, health, resume, signals, non-finite losses, full disk, OOM, collapse."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from distill_tui.analysis.codebook import HealthReport
from distill_tui.config import TrainConfig, from_dict, to_dict
from distill_tui.model.quantizer import LevelHealth
from distill_tui.persistence.model_file import load_model_file, read_document
from distill_tui.train.budget_lr import budget_lr, schedule_for
from distill_tui.train.checkpoint import read_checkpoint
from distill_tui.train.events import EventLog, read_events
from distill_tui.train.vqvae_loop import Trainer, TrainRequest, train_vqvae

TINY_MODEL = {"channels": 32, "latent_dim": 8, "res_blocks": 1, "levels": 2, "codebook_sizes": [16, 16]}


def tiny_request(dataset: Path, tmp: Path, steps: int = 30, **train_kw) -> TrainRequest:
    kw = dict(batch_size=4, crop_frames=32, eval_every=10, kmeans_init_vectors=256, warmup_steps=5, seed=0)
    tc = TrainConfig(steps=steps, **{**kw, **train_kw})
    return TrainRequest(data_dir=dataset, output=tmp / "m.distill", run_dir=tmp / "run", train=tc,
                        model_overrides=dict(TINY_MODEL))


def events(run: Path) -> list[dict]:
    return list(read_events(run / "events.jsonl"))


def test_train_writes_model_events_and_health(dataset, tmp_path):
    res = train_vqvae(tiny_request(dataset, tmp_path))
    assert res.status == "done" and res.step == 30
    kinds = [e["event"] for e in events(tmp_path / "run")]
    for k in ("start", "step", "eval", "health", "checkpoint", "done"):
        assert k in kinds
    assert all("time" in e for e in events(tmp_path / "run"))
    mf = load_model_file(tmp_path / "m.distill")
    h = mf.doc["health"]
    assert len(h["utilization"]) == 2 and len(h["level_gain_db"]) == 2
    assert all(0 < u <= 1 for u in h["utilization"])
    assert h["level_gain_db"][0] > 0  # the first level must help
    refills = [e for e in events(tmp_path / "run") if e["event"] == "codebook"]
    # 30 steps leave codes no sound uses; at the end they are moved to where the sounds are: all in use
    assert len(refills) == 1 and sum(refills[0]["refilled"]) > 0 and h["utilization"] == [1.0, 1.0], (refills, h)
    assert "optim" not in mf.tensors  # the exported model carries no optimizer state
    assert mf.doc["dataset"]["files"] == 6


def test_same_seed_same_model_on_cpu(dataset, tmp_path):
    a = train_vqvae(tiny_request(dataset, tmp_path / "a", steps=12))
    b = train_vqvae(tiny_request(dataset, tmp_path / "b", steps=12))
    assert a.fingerprint == b.fingerprint


def test_stop_then_resume_continues_from_the_checkpoint(dataset, tmp_path):
    req = tiny_request(dataset, tmp_path, steps=30)
    trainer = Trainer(req, EventLog(req.run_dir))

    def stop_at_12(step, loss):
        if step == 12:
            trainer.stop_signal = "SIGTERM"
        return loss

    trainer.loss_hook = stop_at_12
    res = trainer.run()
    assert res.status == "stopped" and not req.output.exists()
    ckpt = read_checkpoint(tmp_path / "run" / "checkpoint.safetensors", "model")
    assert ckpt.state.step == 13 and "optim" in ckpt.tensors and not ckpt.state.finished
    res2 = train_vqvae(tiny_request(dataset, tmp_path, steps=30))
    assert res2.status == "done" and res2.step == 30
    ev = events(tmp_path / "run")
    resume = next(e for e in ev if e["event"] == "resume")
    assert resume["step"] == 13
    assert [e["event"] for e in ev].count("start") == 1
    # running once more after it finished changes nothing
    before = req.output.read_bytes()
    res3 = train_vqvae(tiny_request(dataset, tmp_path, steps=30))
    assert res3.status == "done" and req.output.read_bytes() == before


def test_non_finite_losses_are_skipped_then_rolled_back(dataset, tmp_path):
    calls = {"n": 0}

    def nan_burst(step, loss):  # 8 bad batches in a row from the 5th on
        calls["n"] += 1
        return loss * float("nan") if 4 <= calls["n"] < 12 else loss

    res = train_vqvae(tiny_request(dataset, tmp_path, steps=25), loss_hook=nan_burst)
    assert res.status == "done" and res.step == 25
    msgs = [e["message"] for e in events(tmp_path / "run") if e["event"] == "warning"]
    assert any("step skipped" in m for m in msgs)
    assert any("rolled back" in m and "x0.5" in m for m in msgs)
    mf = load_model_file(tmp_path / "m.distill")
    assert all(torch.isfinite(t).all() for t in mf.group("vqvae").values() if t.is_floating_point())


def test_out_of_memory_halves_the_batch(dataset, tmp_path):
    def oom_once(step, loss):
        if step == 3 and not getattr(oom_once, "done", False):
            oom_once.done = True
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return loss

    res = train_vqvae(tiny_request(dataset, tmp_path, steps=10), loss_hook=oom_once)
    assert res.status == "done"
    ev = events(tmp_path / "run")
    assert any(e["event"] == "warning" and "batch size halved to 2" in e["message"] for e in ev)
    assert any(e["event"] == "step" and e.get("batch_size") == 2 for e in ev)


class FakeSafetensorError(Exception):
    """Like safetensors' SafetensorError: not an OSError, the reason only in its text."""


def test_full_disk_during_checkpoint_keeps_the_last_good_one(dataset, tmp_path, monkeypatch):
    import safetensors.torch

    real = safetensors.torch.save_file
    calls = {"n": 0}

    def flaky(tensors, filename, metadata=None):
        calls["n"] += 1
        if calls["n"] > 1:  # the initial checkpoint succeeds, later ones hit a full disk
            Path(filename).write_bytes(b"half a checkpoint")
            raise FakeSafetensorError("Error while serializing: IoError(No space left on device (os error 28))")
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(safetensors.torch, "save_file", flaky)  # the checkpoint writer's; the model file has its own
    res = train_vqvae(tiny_request(dataset, tmp_path, steps=15, checkpoint_every_s=0.0))
    assert res.status == "done" and res.step == 15 and calls["n"] > 3  # training went on past the failures
    ev = events(tmp_path / "run")
    failed = [e for e in ev if e["event"] == "warning" and e.get("key") == "checkpoint"]
    assert failed and all("No space left" in e["message"] and "previous checkpoint is kept" in e["message"] for e in failed)
    ckpt = read_checkpoint(tmp_path / "run" / "checkpoint.safetensors", "model")
    assert ckpt.state.step == 0  # the initial, intact checkpoint
    assert load_model_file(tmp_path / "m.distill").doc["training"]["steps"] == 15
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_collapsed_level_is_reinitialized_with_a_warning(dataset, tmp_path):
    req = tiny_request(dataset, tmp_path)
    trainer = Trainer(req, EventLog(req.run_dir))
    from distill_tui.config import ModelConfig
    from distill_tui.model.vqvae import VQVAE

    model = VQVAE(ModelConfig(n_bins=513, channels=16, latent_dim=8, levels=2, codebook_sizes=[16, 16]))
    model.quantizer.rvq.layers[1]._codebook.initted.data.fill_(True)
    health = HealthReport(levels=[LevelHealth(1.0, 14.0, 0), LevelHealth(1 / 16, 1.0, 15)], distance_db=[20, 10, 10],
                          counts=[[1] * 16, [5] + [0] * 15])
    trainer._check_health(model, health, step=7)
    assert not bool(model.quantizer.rvq.layers[1]._codebook.initted)
    msgs = [e["message"] for e in events(tmp_path / "run") if e["event"] == "warning"]
    assert any("level 2 collapsed to 1 code" in m for m in msgs)
    assert any("level 2 changes the sound by only 0.00 dB" in m for m in msgs)


def _wait_for(predicate, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_trainer_process_resumes(dataset, tiny_toml, tmp_path, sig):
    cfg = tmp_path / "c.toml"
    cfg.write_text(tiny_toml.read_text().replace("[train]", "[train]\ncheckpoint_every_s = 0.5"))
    out, run = tmp_path / "m.distill", tmp_path / "m.distill.run"
    cmd = [sys.executable, "-m", "distill_tui.cli", "train", str(dataset), "-o", str(out), "--steps", "100000",
           "--config", str(cfg), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert _wait_for(lambda: any(e["event"] == "checkpoint" and e["step"] > 0 for e in events(run)))
        proc.send_signal(sig)
        rc = proc.wait(timeout=60)
    finally:
        proc.kill()
    saved_step = read_checkpoint(run / "checkpoint.safetensors", "model").state.step
    assert saved_step > 0
    if sig == signal.SIGTERM:
        assert rc == 130
        assert any(e["event"] == "stopped" for e in events(run))
    # run again, briefly: it resumes from the checkpoint instead of starting over
    r = subprocess.run([*cmd[:7], "--steps", str(saved_step + 5), *cmd[9:], "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    resumed = [e for e in events(run) if e["event"] == "resume"]
    assert resumed and resumed[-1]["step"] == saved_step
    assert json.loads(r.stdout.strip().splitlines()[-1])["status"] == "done"
    doc = load_model_file(out).doc
    assert math.isfinite(doc["training"]["best_val_db"])
    # it went on from the saved step (not from 0): 5 more steps, the first of them numbered saved_step + 1
    assert doc["training"]["steps"] == saved_step + 5
    first = next(e for e in events(run)[events(run).index(resumed[-1]):] if e["event"] == "step")
    assert first["step"] == saved_step + 1


def test_level_gain_warnings_judge_the_final_model(dataset, tmp_path):
    # every level falls short of an impossible 100 dB gain: the warning must come, but only for the final
    # model (during a run level gains are noise)
    res = train_vqvae(tiny_request(dataset, tmp_path, steps=40, eval_every=5, min_level_gain_db=100.0))
    assert res.status == "done"
    gain_warnings = [e for e in events(tmp_path / "run") if e["event"] == "warning" and e.get("key", "").startswith("gain:")]
    assert {e["key"] for e in gain_warnings} == {"gain:0", "gain:1"}
    assert all(e["step"] == 40 and "(--levels 1)" in e["message"] for e in gain_warnings)
    # fewer levels trained as long measured no closer (RESULTS.md): the advice must not promise the same sound faster
    assert all("grid is smaller" in e["message"] and "faster" not in e["message"] for e in gain_warnings)
    saved = load_model_file(tmp_path / "m.distill").doc["training"]["warnings"]
    assert [m for m in saved if "changes the sound by only" in m] == [e["message"] for e in gain_warnings]


def test_training_defaults_and_augmentation_round_trip_through_the_model_file(dataset, tmp_path):
    res = train_vqvae(tiny_request(dataset, tmp_path, steps=8, augment_gain_db=3.0, augment_semitones=0.25))
    doc = read_document(res.output)
    tc = doc.training.train
    assert tc.augment_gain_db == 3.0 and tc.augment_semitones == 0.25
    assert tc.lr is None and doc.training.extra["peak_lr"] == 2e-3  # 8 steps: the short-budget peak
    assert from_dict(TrainConfig, to_dict(TrainConfig())) == TrainConfig()  # the defaults pass their own bounds
    assert TrainConfig().lr is None and TrainConfig().augment_gain_db >= 0 and TrainConfig().augment_semitones >= 0


def test_peak_learning_rate_follows_the_budget():
    assert budget_lr(2_600) == budget_lr(4_000) == 2e-3  # 5 minutes on 2 CPU cores
    assert budget_lr(8_000) == pytest.approx(2e-3 / math.sqrt(2))
    assert budget_lr(16_000) == budget_lr(100_000) == 1e-3  # 30 minutes and beyond
    steps = schedule_for(TrainConfig(steps=20_000, warmup_steps=10))
    assert steps.rate(0, 0.0) == pytest.approx(1e-3 / 10)  # a step budget is known at once
    heard = []
    timed = schedule_for(TrainConfig(steps=10**9, minutes=5.0, warmup_steps=100), lambda lr, n: heard.append((lr, n)))
    for step in range(100):
        timed.rate(step, step / 3000)  # a pace of 3,000 steps in the budget
    assert not heard
    assert timed.rate(100, 100 / 3000) == pytest.approx(2e-3 * timed.factor(100, 100 / 3000))
    timed.rate(101, 101 / 30000)  # settled at the end of the warm-up: a later pace changes nothing
    assert heard == [(2e-3, pytest.approx(3000))] and timed.lr == 2e-3
    explicit = schedule_for(TrainConfig(lr=5e-4, steps=100_000))
    assert explicit.rate(10_000, 0.5) == pytest.approx(5e-4 * explicit.factor(10_000, 0.5))


def test_a_continuous_bottleneck_trains_and_is_validated(dataset, tmp_path):
    """`eval --baseline continuous` trains the same network without a quantizer: its validation is the
    continuous decode's distance (`analysis.codebook.continuous_distance_db`), and training goes on in train mode."""
    import numpy as np

    from distill_tui.analysis.codebook import continuous_distance_db
    from distill_tui.config import ModelConfig, SpectrogramConfig
    from distill_tui.model.vqvae import VQVAE

    req = tiny_request(dataset, tmp_path, steps=10)
    req.model_overrides = {**req.model_overrides, "quantize": False}
    res = train_vqvae(req)
    assert res.status == "done" and 0 < res.best_val_db < 200
    model = VQVAE(ModelConfig(**{**TINY_MODEL, "n_bins": 513, "quantize": False})).train()
    items = [(np.sin(np.arange(22050) * 0.05).astype(np.float32), 0.0)]
    d = continuous_distance_db(model, items, SpectrogramConfig())
    assert np.isfinite(d) and d > 0 and model.training  # measured in eval mode, handed back in train mode


def test_a_model_remembers_its_sounds_folder_from_any_working_folder(dataset, tiny_toml, tmp_path, monkeypatch):
    """`train kit -o k.distill` stored the folder as "kit": `train-prior k.distill` from any other folder then said
    "the folder the model was trained on (kit) is gone", and the editor's Train the prior… failed the same way."""
    from distill_tui.cli import main

    monkeypatch.chdir(dataset.parent)
    out = tmp_path / "k.distill"
    assert main(["train", dataset.name, "-o", str(out), "--steps", "2", "--config", str(tiny_toml), "--quiet"]) == 0
    assert Path(read_document(out).dataset.root) == dataset.absolute()


def test_a_fresh_run_starts_the_spectrums_convolutions_at_its_sounds_principal_directions(dataset, tmp_path):
    def start(name: str, **kw) -> torch.nn.Module:
        req = tiny_request(dataset, tmp_path / name, **kw)
        req.run_dir.mkdir(parents=True)
        trainer = Trainer(req, EventLog(req.run_dir))
        trainer.setup(None)  # a fresh run, as the runner starts one
        return trainer.model

    on, off = start("on"), start("off", principal_init=False)
    for model, principal in ((on, True), (off, False)):
        first = model.encoder.net[0].weight[:, :, 1].detach()  # (C, F): the centre tap
        gram = first @ first.T  # (C, C): rows along the principal directions are orthogonal
        off_diagonal = (gram - torch.diag(torch.diag(gram))).abs().max() / torch.diag(gram).max()
        assert (float(off_diagonal) < 1e-3) == principal, (principal, float(off_diagonal))
    # the last convolution starts drawing the sounds' mean frame (network units: -1 is the floor), not about 0
    assert float(on.decoder.net[-1].bias.detach().mean()) < -0.3 < float(off.decoder.net[-1].bias.detach().mean())
