"""The Transformer prior's numpy step (model/prior_step.py) gives the logits the model's forward gives, slot by slot
through a cache, for every head and blend a stored prior can have; sampling through it is reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill_tui.analysis.memorization import bigram_log_tables
from distill_tui.inference.generate import Prior, SamplingSettings
from distill_tui.model.cross_level import cross_table
from distill_tui.model.ngram import ngram_table
from distill_tui.model.prior import PriorConfig, PriorModel, SlotInputs, flatten_codes, slot_inputs
from distill_tui.model.prior_step import SlotStep

SIZES = [12, 8, 10]

VARIANTS = {
    "bigram base": {"bigram_base": True},
    "tied head": {"blend": "none"},
    "linear blend": {"blend": "linear", "blend_weights": [0.5, 0.3, 1.0]},
    "product blend": {"blend": "product", "blend_weights": [0.5, 2.0, 0.0]},
    "blend with cross-level and n-gram": {"blend": "linear", "blend_weights": [0.4, 0.3, 0.2],
                                          "cross_weights": [0.0, 0.3, 0.4], "ngram_weights": [0.3, 0.2, 0.1],
                                          "ngram_order": 3},
}


def grids(n: int = 3, positions: int = 30, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.stack([rng.integers(0, k, positions) for k in SIZES]) for _ in range(n)]


def prior_model(variant: str, **extra) -> PriorModel:
    torch.manual_seed(1)
    cfg = PriorConfig(architecture="transformer", levels=3, codebook_sizes=SIZES, context=8, d_model=32, layers=2,
                      heads=4, **VARIANTS[variant], **extra)
    model = PriorModel(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # an untrained network that still says something: weights well off zero
            p.add_(torch.randn_like(p) * 0.2)
    g = grids()
    model.set_bigram(*bigram_log_tables(g, SIZES, 0.5))
    model.set_cross(cross_table(cfg, g, 0.3))
    if model.use_ngram:
        model.set_ngram(ngram_table(cfg, g, 3))
    return model


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_numpy_step_gives_the_forwards_logits_slot_by_slot(variant):
    model = prior_model(variant)
    cfg = model.cfg
    assert model.use_ngram == ("n-gram" in variant) and model.use_cross == ("cross" in variant)
    seq = torch.from_numpy(np.stack([flatten_codes(g, cfg) for g in grids(2, positions=8, seed=3)]))  # (2, 24)
    slots = cfg.context * cfg.levels
    with torch.no_grad():
        whole = model(slot_inputs(cfg, seq, 0, 0, slots))  # (2, 24, V): every slot at once, no cache
        step, cache = SlotStep(model), model.new_cache(2)
        prefill = 5  # the first slots through the torch forward, as sampling's prefill does
        model(slot_inputs(cfg, seq, 0, 0, prefill), cache)
        for i in range(prefill, slots):
            x = slot_inputs(cfg, seq, 0, i, i + 1)
            got = torch.from_numpy(step.step(*(t[:, 0].numpy() for t in (x.tok, x.same, x.level, x.time, x.same2)),
                                             cache))  # (2, V)
            finite = torch.isfinite(whole[:, i])
            assert torch.equal(torch.isfinite(got), finite), f"slot {i}: another level's codes"
            assert torch.allclose(got[finite], whole[:, i][finite], atol=1e-4, rtol=1e-4), f"slot {i}"
    assert cache.length == slots


def test_the_step_and_forward_share_the_cache():
    """What the step writes into the cache is what the torch forward reads next, and the other way round."""
    model = prior_model("linear blend")
    cfg = model.cfg
    seq = torch.from_numpy(flatten_codes(grids(1, positions=8)[0], cfg))[None]  # (1, 24)
    with torch.no_grad():
        whole = model(slot_inputs(cfg, seq, 0, 0, 12))
        step, cache = SlotStep(model), model.new_cache(1)
        for i in range(12):
            x = slot_inputs(cfg, seq, 0, i, i + 1)
            if i % 2:
                got = model(SlotInputs(x.tok, x.same, x.level, x.time, x.same2), cache)[:, 0]
            else:
                got = torch.from_numpy(step.step(*(t[:, 0].numpy() for t in (x.tok, x.same, x.level, x.time, x.same2)),
                                                 cache))
            finite = torch.isfinite(whole[:, i])
            assert torch.allclose(got[finite], whole[:, i][finite], atol=1e-4, rtol=1e-4), f"slot {i}"


@pytest.mark.parametrize("variant", ["linear blend", "blend with cross-level and n-gram"])
def test_the_numpy_prefill_fills_the_cache_as_the_forward_does(variant):
    """Sampling refills its window's cache with `prefill` when the window slides: the keys and values it writes, in
    two calls (the second attending to the first's), are the torch forward's, and the step after it agrees."""
    model = prior_model(variant)
    cfg = model.cfg
    seq = torch.from_numpy(np.stack([flatten_codes(g, cfg) for g in grids(2, positions=8, seed=5)]))  # (2, 24)
    step = SlotStep(model)
    with torch.no_grad():
        whole = model(slot_inputs(cfg, seq, 1, 3, 20))  # (2, 17, V): a window starting at time 1, read mid-sound
        want, got = model.new_cache(2), model.new_cache(2)
        model(slot_inputs(cfg, seq, 1, 3, 16), want)
        for i0, i1 in ((3, 8), (8, 16)):
            x = slot_inputs(cfg, seq, 1, i0, i1)
            step.prefill(x.tok.numpy(), x.same.numpy(), x.level.numpy(), x.time.numpy(), got)
        assert got.length == want.length == 13
        for k_got, k_want, v_got, v_want in zip(got.k, want.k, got.v, want.v, strict=True):
            assert torch.allclose(k_got, k_want, atol=1e-5) and torch.allclose(v_got, v_want, atol=1e-5)
        x = slot_inputs(cfg, seq, 1, 16, 17)
        logits = torch.from_numpy(step.step(*(t[:, 0].numpy() for t in (x.tok, x.same, x.level, x.time, x.same2)), got))
        finite = torch.isfinite(whole[:, 13])
        assert torch.allclose(logits[finite], whole[:, 13][finite], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("variant", "memory"), [*((v, False) for v in VARIANTS), ("blend with cross-level and n-gram", True)])
def test_scoring_kept_slots_through_the_sampler_is_the_priors_score(variant, memory):
    """Kept slots are scored in runs, one forward per run within a window (`Prior._fill`): with every slot kept,
    the sampler's log-probability of a grid of 30 positions (window 8, sliding by 4) is `Prior.score`'s, for every
    head and blend, and with the sound's memory; and a mask of scattered cells draws them all and keeps every
    other cell."""
    extra = {"memory_modes": ["bi", "cross", "cross"], "memory_decays": [0.9] * 3, "memory_kappas": [2.0] * 3} if memory else {}
    prior = Prior(prior_model(variant, **extra), "fingerprint")
    grid = grids(1, positions=30, seed=7)[0]
    seq = torch.from_numpy(flatten_codes(grid, prior.cfg))[None].clone()  # (1, 90)
    n = seq.shape[1]
    logp = prior._run(seq, torch.zeros(n, dtype=torch.bool), 0, n, SamplingSettings(), torch.Generator())
    assert -float(logp[0]) / n == pytest.approx(prior.score(grid), abs=1e-5)
    free = np.zeros(grid.shape, dtype=bool)
    free[[1, 2, 1, 0], [3, 11, 12, 25]] = True
    found = prior.mask_candidates(grid, free, SamplingSettings(seed=2), candidates=3)
    assert all(np.array_equal(c.codes[~free], grid[~free]) for c in found)
    assert [c.join_nll for c in found] == sorted(c.join_nll for c in found)


def test_sampling_through_the_step_is_reproducible_and_follows_the_model():
    prior = Prior(prior_model("blend with cross-level and n-gram"), "fingerprint")
    a = prior.generate(20, SamplingSettings(seed=4))
    assert np.array_equal(a, prior.generate(20, SamplingSettings(seed=4)))
    assert not np.array_equal(a, prior.generate(20, SamplingSettings(seed=5)))
    assert all((a[lv] >= 0).all() and (a[lv] < k).all() for lv, k in enumerate(SIZES))
    # A level the model is sure of: every draw follows it (the step reads the same weights and masks as the model)
    prior = Prior(prior_model("linear blend"), "fingerprint")
    with torch.no_grad():
        prior.model.level_mask[0, 3:SIZES[0]] = -torch.inf
        prior.model.level_mask[0, :2] = -torch.inf  # level 1 can only be code 2
    assert (prior.generate(20, SamplingSettings(seed=6))[0] == 2).all()


def test_an_lstm_prior_has_no_numpy_step():
    cfg = PriorConfig(architecture="lstm", levels=3, codebook_sizes=SIZES, context=8, d_model=32, layers=1, heads=2)
    with pytest.raises(ValueError, match="LSTM"):
        SlotStep(PriorModel(cfg))
