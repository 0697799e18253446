"""Stage 1's width under a time budget: timed full-width steps choose between the full and the narrow network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from distill_tui.config import ModelConfig, SpectrogramConfig, TrainConfig
from distill_tui.persistence.model_file import read_document
from distill_tui.train import width as width_module
from distill_tui.train.events import read_events
from distill_tui.train.vqvae_loop import TrainRequest, train_vqvae
from distill_tui.train.width import (
    FULL_CHANNELS,
    FULL_FROM_STEPS,
    NARROW_CHANNELS,
    PROBE_BATCH,
    choose_width,
    full_width_step_seconds,
)

SMALL = {"latent_dim": 8, "res_blocks": 1, "levels": 2, "codebook_sizes": [16, 16]}  # channels left to the trainer


def test_the_full_width_needs_enough_of_its_steps_in_the_budget():
    slow = choose_width(step_s=0.39, budget_s=300)  # a 2-core Zen 3 at 5 minutes: 769 full-width steps
    assert slow.channels == NARROW_CHANNELS and slow.narrowed and round(slow.full_steps) == 769
    assert "lighter model" in slow.note(5) and f"channels = {FULL_CHANNELS}" in slow.note(5)
    assert "769 training steps of the full-size one in 5 minutes" in slow.note(5)
    assert "in 1 minute," in choose_width(step_s=0.39, budget_s=60).note(1)  # not "1 minutes"
    fast = choose_width(step_s=0.01, budget_s=300)  # a GPU: 30,000 steps
    assert fast.channels == FULL_CHANNELS and not fast.narrowed and fast.note(5) == ""
    edge = choose_width(step_s=300 / FULL_FROM_STEPS, budget_s=300)
    assert edge.channels == FULL_CHANNELS
    capped = choose_width(step_s=0.39, budget_s=300, max_steps=500)  # --steps 500 ends the run before the minutes
    assert capped.channels == FULL_CHANNELS and capped.full_steps == 500


def test_the_probe_times_full_width_steps_scaled_to_the_batch_and_leaves_the_random_state():
    ticks = iter(range(1000))
    cfg = ModelConfig(n_bins=513, channels=NARROW_CHANNELS, **SMALL)
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    step_s = full_width_step_seconds(cfg, SpectrogramConfig(), crop_frames=32, batch_size=16, device="cpu",
                                     precision="float32", clock=lambda: float(next(ticks)))
    assert step_s == pytest.approx(1.0 * 16 / PROBE_BATCH)  # each timed step read 1 s on the clock
    assert torch.equal(torch.rand(4), expected)  # training starts from the seed's state, probe or not


def _request(dataset: Path, tmp: Path, *, minutes: float | None, steps: int = 10**9, **model) -> TrainRequest:
    tc = TrainConfig(steps=steps, minutes=minutes, batch_size=4, crop_frames=32, eval_every=10,
                     kmeans_init_vectors=256, warmup_steps=5, seed=0)
    return TrainRequest(data_dir=dataset, output=tmp / "m.distill", run_dir=tmp / "run", train=tc,
                        model_overrides={**SMALL, **model})


def test_a_time_budget_too_short_for_the_full_width_trains_the_narrow_one_and_says_why(dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(width_module, "full_width_step_seconds", lambda *a, **k: 1.0)  # 1 s a full-width step
    res = train_vqvae(_request(dataset, tmp_path, minutes=0.02))
    assert res.status == "done"
    evs = list(read_events(tmp_path / "run" / "events.jsonl"))
    start = next(e for e in evs if e["event"] == "start")
    width = next(e for e in evs if e["event"] == "width")
    assert start["model"]["channels"] == NARROW_CHANNELS == width["channels"]
    assert width["full_steps"] == 1 and "lighter model" in width["message"]
    assert read_document(tmp_path / "m.distill").model.channels == NARROW_CHANNELS


@pytest.mark.parametrize("case", ["channels given", "steps budget"])
def test_no_probe_when_the_width_is_given_or_the_budget_is_in_steps(dataset, tmp_path, monkeypatch, case):
    def probe(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the width was probed")

    monkeypatch.setattr(width_module, "full_width_step_seconds", probe)
    if case == "channels given":
        req = _request(dataset, tmp_path, minutes=0.01, channels=32)
    else:
        req = _request(dataset, tmp_path, minutes=None, steps=3, channels=None)
    assert train_vqvae(req).status == "done"
    evs = list(read_events(tmp_path / "run" / "events.jsonl"))
    assert not any(e["event"] == "width" for e in evs)
    start = next(e for e in evs if e["event"] == "start")
    assert start["model"]["channels"] == (32 if case == "channels given" else FULL_CHANNELS)
