"""Distill's AdamW against torch.optim.AdamW: the same parameters and states, exactly, and each other's checkpoints."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from distill_tui.train.adamw import AdamW


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv1d(4, 8, 3, padding=1), torch.nn.GELU(), torch.nn.Conv1d(8, 4, 1))


def _train(model: torch.nn.Module, opt, steps: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for i in range(steps):
        x = torch.randn(2, 4, 16, generator=g)  # (B, C, T)
        opt.param_groups[0]["lr"] = 2e-3 * (0.9 ** i)  # a schedule sets the rate before each step, as training does
        opt.zero_grad(set_to_none=True)
        loss = (model(x) - x).square().mean()
        loss.backward()
        if i == 3:  # a parameter without a gradient this step keeps its value and state
            model[2].bias.grad = None
        opt.step()


@pytest.mark.parametrize("fused", [False, True])
def test_same_updates_as_torch_adamw(fused: bool) -> None:
    ours_model, torch_model = _model(0), _model(0)
    kw = {"lr": 2e-3, "betas": (0.9, 0.99), "weight_decay": 1e-4, "fused": fused}
    ours, theirs = AdamW(ours_model.parameters(), **kw), torch.optim.AdamW(torch_model.parameters(), **kw)
    _train(ours_model, ours, 12)
    _train(torch_model, theirs, 12)
    for a, b in zip(ours_model.parameters(), torch_model.parameters(), strict=True):
        assert torch.equal(a, b)
    mine, ref = ours.state_dict(), theirs.state_dict()
    assert mine["state"].keys() == ref["state"].keys()
    for idx, state in ref["state"].items():
        for key, value in state.items():
            assert torch.equal(mine["state"][idx][key], value), (idx, key)
            assert mine["state"][idx][key].dtype == value.dtype
    assert {k: v for k, v in mine["param_groups"][0].items() if k in ref["param_groups"][0]} == \
        {k: v for k, v in ref["param_groups"][0].items() if k in mine["param_groups"][0]}


@pytest.mark.parametrize("fused", [False, True])
def test_resumes_a_torch_checkpoint_and_the_other_way(fused: bool) -> None:
    kw = {"lr": 1e-3, "betas": (0.9, 0.98), "weight_decay": 1e-2, "fused": fused}
    straight_model = _model(3)
    straight = torch.optim.AdamW(straight_model.parameters(), **kw)
    _train(straight_model, straight, 10)

    first_model = _model(3)  # five steps with torch's optimizer, five more with ours from its state
    first = torch.optim.AdamW(first_model.parameters(), **kw)
    _train(first_model, first, 5)
    second = AdamW(first_model.parameters(), **kw)
    second.load_state_dict(first.state_dict())
    g = torch.Generator().manual_seed(1)
    for i in range(10):  # replay the same batches and rates; the first five were already taken
        x = torch.randn(2, 4, 16, generator=g)
        if i < 5:
            continue
        second.param_groups[0]["lr"] = 2e-3 * (0.9 ** i)
        second.zero_grad()
        (first_model(x) - x).square().mean().backward()
        if i == 3:
            first_model[2].bias.grad = None
        second.step()
    for a, b in zip(first_model.parameters(), straight_model.parameters(), strict=True):
        assert torch.equal(a, b)

    back = torch.optim.AdamW(_model(3).parameters(), **kw)  # and torch takes ours
    back.load_state_dict(second.state_dict())
    assert torch.equal(back.state_dict()["state"][0]["exp_avg"], second.state_dict()["state"][0]["exp_avg"])


def test_loaded_state_is_a_copy() -> None:
    """A rollback to a saved state must not be changed by the steps taken after it."""
    model = _model(5)
    opt = AdamW(model.parameters(), lr=1e-3)
    _train(model, opt, 3)
    saved = {"state": {i: {k: v.clone() for k, v in s.items()} for i, s in opt.state_dict()["state"].items()},
             "param_groups": opt.state_dict()["param_groups"]}
    opt.load_state_dict(saved)
    before = saved["state"][0]["exp_avg"].clone()
    _train(model, opt, 2)
    assert torch.equal(saved["state"][0]["exp_avg"], before)
    assert not torch.equal(opt.state_dict()["state"][0]["exp_avg"], before)


def test_refuses_state_of_other_parameters() -> None:
    opt = AdamW(_model(0).parameters())
    other = AdamW(torch.nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match="different set of parameters"):
        opt.load_state_dict(other.state_dict())


def test_training_does_not_import_dynamo() -> None:
    """The reason this class exists: a step without `torch._dynamo` (2.2 s of every training start on a 2-core CPU)."""
    code = ("import sys, torch\n"
            "from distill_tui.train.adamw import AdamW\n"
            "m = torch.nn.Linear(3, 3); o = AdamW(m.parameters(), fused=True)\n"
            "m(torch.randn(2, 3)).sum().backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); o.step()\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
