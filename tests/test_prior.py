"""The prior model (layout, cache, windows) and `train-prior` (model file, events, resume, verdicts)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import signal

import numpy as np
import pytest
import torch

from distill_tui.analysis.memorization import bigram_log_tables, bigram_nll
from distill_tui.cli import main
from distill_tui.commands.info import model_info
from distill_tui.errors import BadInputError
from distill_tui.inference.codec import load_codec
from distill_tui.inference.generate import Prior, SamplingSettings
from distill_tui.model.prior import (
    PriorConfig,
    PriorModel,
    adaptive_prior_config,
    flatten_codes,
    scoring_windows,
    sequences_nll,
    slot_inputs,
    unflatten_tokens,
)
from distill_tui.persistence.model_file import load_model_file
from distill_tui.train.events import EventLog, read_events
from distill_tui.train.prior_loop import PriorRequest, PriorTrainConfig, PriorTrainer, train_prior

from .conftest import synth

FAST = ["--steps", "30", "--d-model", "32", "--layers", "1", "--context", "8"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_cfg(arch: str = "transformer", base: bool = True) -> PriorConfig:
    return PriorConfig(architecture=arch, levels=3, codebook_sizes=[8, 16, 8], context=8, d_model=32, heads=4, dropout=0.0,
                       bigram_base=base)


def random_bigram(sizes: list[int], seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    grids = [np.stack([rng.integers(0, k, 30) for k in sizes]) for _ in range(3)]
    return bigram_log_tables(grids, sizes, 0.5)


# ------------------------------------------------------------------ model
def test_layout_is_time_major_with_levels_interleaved():
    cfg = small_cfg()
    codes = np.array([[1, 2, 3], [4, 5, 6], [7, 0, 1]])
    tokens = flatten_codes(codes, cfg)
    # t0q0, t0q1, t0q2, t1q0, ... with level offsets 0, 8, 24
    assert tokens.tolist() == [1, 12, 31, 2, 13, 24, 3, 14, 25]
    assert np.array_equal(unflatten_tokens(tokens, cfg), codes)


@pytest.mark.parametrize(("arch", "base"), [("transformer", True), ("lstm", True), ("transformer", False)])
def test_incremental_steps_match_the_full_forward(arch, base):
    torch.manual_seed(0)
    cfg = small_cfg(arch, base)
    model = PriorModel(cfg).eval()
    if base:
        model.set_bigram(*random_bigram(cfg.codebook_sizes))
        torch.nn.init.normal_(model.head.weight, std=0.5)  # the head starts at zero; make the network count
    codes = np.stack([np.random.default_rng(q).integers(0, k, 8) for q, k in enumerate(cfg.codebook_sizes)])
    seq = torch.from_numpy(flatten_codes(codes, cfg))[None]  # (1, 24)
    with torch.no_grad():
        full = model(slot_inputs(cfg, seq, 0, 0, 24))  # (1, 24, V)
        cache = model.new_cache(1)
        parts = [model(slot_inputs(cfg, seq, 0, 0, 7), cache)]
        parts += [model(slot_inputs(cfg, seq, 0, i, i + 1), cache) for i in range(7, 24)]
    inc = torch.cat(parts, dim=1)
    assert full.shape == (1, 24, cfg.vocab)
    finite = torch.isfinite(full)
    assert torch.equal(finite, torch.isfinite(inc))
    assert torch.allclose(full[finite], inc[finite], atol=1e-5)
    # the softmax at each slot ranges over its own level's codes only
    for i in range(24):
        lo = cfg.offsets[i % 3]
        assert finite[0, i].nonzero().flatten().tolist() == list(range(lo, lo + cfg.codebook_sizes[i % 3]))


def test_before_training_the_prior_is_the_bigram():
    cfg = small_cfg()
    rng = np.random.default_rng(1)
    train = [np.stack([rng.integers(0, k, 40) for k in cfg.codebook_sizes]) for _ in range(4)]
    val = [np.stack([rng.integers(0, k, n) for k in cfg.codebook_sizes]) for n in (5, 19)]
    model = PriorModel(cfg).eval()
    model.set_bigram(*bigram_log_tables(train, cfg.codebook_sizes, 0.3))
    total, n = sequences_nll(model, [torch.from_numpy(flatten_codes(g, cfg)) for g in val])
    expected, m = bigram_nll(train, val, cfg.codebook_sizes, 0.3)
    assert n == m and math.isclose(total, expected, rel_tol=1e-5)


@pytest.mark.parametrize("positions", [1, 5, 8, 9, 12, 13, 31])
def test_scoring_windows_score_every_slot_once_with_half_a_window_of_past(positions):
    cfg = small_cfg()
    n = positions * cfg.levels
    windows = scoring_windows(cfg, n)
    scored = [i for w in windows for i in range(w.s0, w.s1)]
    assert scored == list(range(n))
    for w in windows:
        assert w.i1 - w.i0 <= cfg.context * cfg.levels
        assert w.w0 == 0 or w.s0 - w.i0 >= cfg.hop * cfg.levels


def test_sizes_follow_the_dataset():
    small = adaptive_prior_config(20, 3, [64] * 3)
    assert (small.layers, small.d_model) == (2, 64)
    # 2 x 64 beat 3 x 192 on 50 files in a 3-minute budget (docs/architecture.md, decision 33)
    assert (adaptive_prior_config(50, 3, [64] * 3).d_model, adaptive_prior_config(199, 3, [64] * 3).layers) == (64, 2)
    big = adaptive_prior_config(300, 4, [256] * 4)
    assert big.layers > small.layers and big.d_model > small.d_model
    assert adaptive_prior_config(20, 3, [64] * 3, architecture="lstm").architecture == "lstm"


# ------------------------------------------------------------------ train-prior
@pytest.fixture(scope="module")
def prior_run(tiny_model, tmp_path_factory):
    """`train-prior` run once through the command line's entry point, on a copy of the tiny model."""
    work = tmp_path_factory.mktemp("prior")
    path = work / "m.distill"
    shutil.copyfile(tiny_model, path)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("DISTILL_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        torch.set_num_threads(1)
        assert main(["train-prior", str(path), *FAST, "--json", "--quiet"]) == 0
    return path, json.loads(out.getvalue().strip().splitlines()[-1]), work


def test_train_prior_writes_the_prior_and_its_guard(prior_run):
    path, out, _ = prior_run
    assert out["status"] == "done" and out["step"] == 30
    assert out["architecture"] in {"transformer", "bigram"}  # "bigram": the tiny network fell back to it
    assert out["train_files"] == 6 and out["val_files"] == 6  # the final prior sees every sound; each is held out once
    doc = load_model_file(path).doc["prior"]
    for key in ("architecture", "val_perplexity", "bigram_val_perplexity", "copy_rate_8gram", "verdict",
                "vqvae_fingerprint", "config", "nearest_hamming", "train_perplexity", "folds"):
        assert key in doc
    folds = doc["folds"]
    assert folds == out["folds"] and folds["folds"] == 5 and folds["files"] == 6
    for key in ("network_nll", "network_nll_spread", "bigram_nll", "bigram_nll_spread"):
        assert len(folds[key]) == 2  # per level
    assert len(folds["network_by_fold"]) == len(folds["bigram_by_fold"]) == 5
    assert folds["kept"] in {"blend", "network", "bigram"}
    assert (folds["kept"] != "bigram") == (out["architecture"] == "transformer")  # a blend carries its network
    assert folds["keep_network"] == (folds["network_mean"] < folds["bigram_mean"])
    chosen = {"blend": folds["blend_perplexity"], "network": folds["network_perplexity"],
              "bigram": folds["bigram_perplexity"]}[folds["kept"]]
    assert math.isclose(doc["val_perplexity"], chosen, rel_tol=1e-3)
    assert math.isclose(doc["bigram_val_perplexity"], folds["bigram_perplexity"], rel_tol=1e-3)
    assert doc["val_perplexity"] > 1 and doc["bigram_val_perplexity"] > 1
    assert 0 <= doc["copy_rate_8gram"] <= 1 and 0 <= doc["nearest_hamming"] <= 1
    assert doc["verdict"].split()[0] in {"healthy", "copying", "undertrained", "overfitting"}
    info = model_info(path)
    assert info["has_prior"] and info["prior"]["architecture"] == out["architecture"] == doc["architecture"]
    assert info["prior"]["verdict"] == doc["verdict"] and info["prior"]["folds"] == folds


def test_adding_the_prior_leaves_the_vqvae_as_it_was(prior_run, tiny_model):
    path, _, _ = prior_run
    before, after = load_model_file(tiny_model), load_model_file(path)
    assert after.fingerprint == before.fingerprint
    assert set(after.group("vqvae")) == set(before.group("vqvae"))
    for name, t in before.group("vqvae").items():
        u = after.group("vqvae")[name]
        assert t.dtype == u.dtype and t.shape == u.shape
        assert t.contiguous().view(torch.uint8).numpy().tobytes() == u.contiguous().view(torch.uint8).numpy().tobytes()
    for key, value in before.doc.items():
        if key != "prior":
            assert after.doc[key] == value, key
    sound = synth("pluck", 0.8, seed=3)
    a = load_codec(tiny_model).encode_samples(sound).codes
    b = load_codec(path).encode_samples(sound).codes
    assert np.array_equal(a, b)


def test_train_prior_event_log_reports_perplexity_over_time(prior_run):
    path, _, _ = prior_run
    events = list(read_events(path.with_name(path.name + ".prior-run")))
    kinds = [e["event"] for e in events]
    for kind in ("start", "fold", "folds", "step", "eval", "checkpoint", "done"):
        assert kind in kinds
    assert kinds.index("folds") < kinds.index("step")  # the decision comes before the final prior trains
    folds = [e for e in events if e["event"] == "fold"]
    assert [e["fold"] for e in folds] == [1, 2, 3, 4, 5]
    held = sorted(name for e in folds for name in e["held_out"])
    assert len(held) == 6 and len(set(held)) == 6  # every sound held out exactly once
    evals = [e for e in events if e["event"] == "eval"]
    assert len(evals) >= 2 and all({"train_ppl", "val_ppl", "bigram_val_ppl"} <= set(e) for e in evals)
    start = next(e for e in events if e["event"] == "start")
    assert start["split"] == "by file" and start["augmented_grids"] > 0 and start["folds"] == 5


@pytest.mark.parametrize("base", [False, True])
def test_a_network_that_never_beats_the_bigram_falls_back_to_it(tiny_model, dataset, tmp_path, base):
    path = tmp_path / "m.distill"
    shutil.copyfile(tiny_model, path)
    # the network stays random; without the sound's memory, whose blend (with no network share) can beat the bigram
    tc = PriorTrainConfig(steps=2, lr=1e-9, eval_every=1, augment=False, memory=False)
    res = train_prior(PriorRequest(model_path=path, run_dir=tmp_path / "run", data_dir=dataset, train=tc,
                                   prior_overrides={"d_model": 32, "layers": 1, "context": 8, "bigram_base": base}))
    doc = load_model_file(path).doc["prior"]
    assert doc["fallback"] == "bigram" and doc["config"]["bigram_base"] and doc["architecture"] == "bigram"
    assert math.isclose(doc["val_perplexity"], doc["bigram_val_perplexity"], rel_tol=1e-4)
    assert "samples like the bigram" in doc["verdict"] and any("falls back" in w for w in res.warnings)
    grid = Prior.from_model_file(path).generate(12, SamplingSettings(seed=0))
    assert grid.shape == (2, 12)


def test_trained_prior_generates(prior_run):
    path, _, _ = prior_run
    prior = Prior.from_model_file(path)
    grid = prior.generate(20, SamplingSettings(seed=1))
    assert grid.shape == (2, 20)
    assert np.array_equal(prior.generate(20, SamplingSettings(seed=1)), grid)


def test_train_prior_bad_input(tmp_path, tiny_model, capsys):
    assert main(["train-prior", str(tmp_path / "missing.distill")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "missing.distill" in err
    assert main(["train-prior", str(tiny_model), "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err
    model = tmp_path / "m.distill"
    shutil.copyfile(tiny_model, model)
    assert main(["train-prior", str(model), str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    # these asked torch for 90 and 120 GB and ended in its allocator's error, exit 1
    for flag, value in (("--context", "100000"), ("--d-model", "100000"), ("--layers", "1000"), ("--context", "0")):
        for shape in ("causal", "masked"):
            assert main(["train-prior", str(model), "--shape", shape, flag, value]) == 2, (shape, flag)
            err = capsys.readouterr().err
            assert err.startswith("error:") and f"{flag} must be from 1 to" in err and err.count("\n") == 1, err


def test_interrupted_training_resumes(tiny_model, tmp_path, dataset):
    """SIGINT saves a checkpoint and stops; the same request again resumes from it."""
    path = tmp_path / "m.distill"
    shutil.copyfile(tiny_model, path)
    run = tmp_path / "run"
    cfg = {"d_model": 32, "layers": 1, "context": 8}

    def request(steps: int) -> PriorRequest:
        tc = PriorTrainConfig(steps=steps, eval_every=10, augment=False, folds=2)
        return PriorRequest(model_path=path, run_dir=run, data_dir=dataset, train=tc, prior_overrides=cfg)

    def interrupt(event: dict) -> None:  # Ctrl-C as soon as the final prior steps, delivered in this (the main) thread
        if event["event"] == "step":
            os.kill(os.getpid(), signal.SIGINT)

    req = request(40)
    first = PriorTrainer(req, EventLog(req.run_dir, echo=interrupt)).run()
    assert first.status == "stopped" and 1 <= first.step < 40
    assert load_model_file(path).doc.get("prior") is None  # nothing written into the model yet
    second = train_prior(request(40))
    assert second.status == "done" and second.step == 40  # the folds' step count
    kinds = [e["event"] for e in read_events(run)]
    assert "stopped" in kinds and "resume" in kinds
    assert kinds.count("folds") == 1 and kinds.count("fold") == 2  # the resumed run keeps the decision
    with pytest.raises(BadInputError, match="architecture transformer"):  # a finished run of another shape
        train_prior(PriorRequest(model_path=path, run_dir=run, data_dir=dataset, prior_overrides={"architecture": "lstm"}))
    assert load_model_file(path).doc["prior"]["training"]["steps"] == 40
