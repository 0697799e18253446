"""The prior blended with its same-level bigram: the maths, the fold choice (honest, nested), storing and loading."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from distill_tui.analysis.memorization import ALPHAS, bigram_log_tables
from distill_tui.config import from_dict, to_dict
from distill_tui.errors import BadInputError
from distill_tui.inference.generate import Prior, SamplingSettings
from distill_tui.model.prior import PriorConfig, PriorModel, blend_logp, flatten_codes, slot_inputs
from distill_tui.persistence.document import PriorSummary
from distill_tui.persistence.model_file import load_model_file
from distill_tui.train import prior_loop
from distill_tui.train.prior_data import FileCodes
from distill_tui.train.prior_folds import (
    BLEND_CANDIDATES,
    FoldDecision,
    FoldResult,
    decide,
    run_fold,
)
from distill_tui.train.prior_loop import PriorRequest, PriorTrainConfig, blend_bigram, train_prior

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZES = [8, 16]


def cfg(**kw) -> PriorConfig:
    return PriorConfig(levels=2, codebook_sizes=list(SIZES), context=8, d_model=32, layers=1, heads=4, dropout=0.0,
                       **kw)


def grids(n: int, seed: int = 0, length: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.stack([rng.integers(0, k, length + 3 * i) for k in SIZES]) for i in range(n)]


def level_logp(n: int, seed: int) -> torch.Tensor:
    """Random log-probabilities over a level of 5 codes, -inf over 3 codes of another level: (n, 8)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    x[:, 5:] = -math.inf
    return torch.log_softmax(x, dim=-1)


@pytest.mark.parametrize("kind", ["linear", "product"])
def test_a_blend_is_normalized_over_the_level_and_its_ends_are_each_model(kind):
    net, big = level_logp(4, 0), level_logp(4, 1)
    for w in (0.0, 0.3, 1.0):
        out = blend_logp(net, big, kind, torch.full((4, 1), w))
        assert torch.allclose(out[:, :5].exp().sum(-1), torch.ones(4), atol=1e-5)
        assert torch.isneginf(out[:, 5:]).all() and not out.isnan().any()
    if kind == "linear":
        assert torch.allclose(blend_logp(net, big, kind, torch.ones(4, 1)), net)
        assert torch.allclose(blend_logp(net, big, kind, torch.zeros(4, 1))[:, :5], big[:, :5])
        mid = blend_logp(net, big, kind, torch.full((4, 1), 0.3)).exp()
        assert torch.allclose(mid, 0.3 * net.exp() + 0.7 * big.exp(), atol=1e-6)
    else:
        assert torch.allclose(blend_logp(net, big, kind, torch.zeros(4, 1)), net, atol=1e-6)
        prod = blend_logp(net, big, kind, torch.full((4, 1), 0.5))
        expected = torch.log_softmax(net + 0.5 * big.nan_to_num(neginf=0.0), dim=-1)
        assert torch.allclose(prod, expected, atol=1e-6)


def test_a_blended_model_reads_its_bigram_with_one_weight_per_level():
    g = grids(3)
    torch.manual_seed(0)
    plain = PriorModel(cfg()).eval()
    blended = PriorModel(cfg(blend="linear", blend_weights=[0.25, 0.75])).eval()
    missing, unexpected = blended.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["bigram"] and not unexpected
    starts, trans = bigram_log_tables(g, SIZES, 0.5)
    blended.set_bigram(starts, trans)
    seq = torch.from_numpy(flatten_codes(g[0], plain.cfg))[None]  # (1, N)
    x = slot_inputs(plain.cfg, seq, 0, 0, 16)
    p_net, p_mix = plain(x).softmax(-1)[0], blended(x).softmax(-1)[0]  # (T, V)
    # slot 3 is level 2 (weight 0.75) and its previous same-level code is the target of slot 1
    prev, lo = int(seq[0, 1]) - SIZES[0], SIZES[0]
    big = torch.from_numpy(np.exp(trans[1][prev])).float()
    assert torch.allclose(p_mix[3, lo:], 0.75 * p_net[3, lo:] + 0.25 * big, atol=1e-5)
    # slot 0 is level 1's first code: its start row, weight 0.25
    assert torch.allclose(p_mix[0, :lo], 0.25 * p_net[0, :lo] + 0.75 * torch.from_numpy(np.exp(starts[0])).float(),
                          atol=1e-5)


def test_old_priors_load_and_blend_settings_are_checked():
    old = {k: v for k, v in to_dict(cfg()).items() if k not in ("blend", "blend_weights")}
    loaded = from_dict(PriorConfig, old)
    assert loaded.blend == "none" and "bigram" not in PriorModel(loaded).state_dict()
    for bad in ({"blend": "mean", "blend_weights": [0.5, 0.5]}, {"blend": "linear", "blend_weights": [0.5]},
                {"blend": "linear", "blend_weights": [0.5, 1.5]}, {"blend": "product", "blend_weights": [0.5, -1]},
                {"blend": "linear", "blend_weights": [0.5, 0.5], "bigram_base": True}):
        with pytest.raises(BadInputError):
            from_dict(PriorConfig, {**old, **bad})


def test_fold_scores_of_the_blend_ends_match_the_network_and_the_bigram():
    c = cfg()
    g = grids(4, 5)
    codes = FileCodes([f"f{i}" for i in range(4)], g, [], [])
    tc = PriorTrainConfig(steps=6, eval_every=3, batch_size=4, augment=False)
    r = run_fold(c, tc, codes, [1, 3], 6)
    blended = np.array(r.blended)  # (E, C, Q)
    assert blended.shape == (3, len(BLEND_CANDIDATES), 2)
    for i, cand in enumerate(BLEND_CANDIDATES):
        if (cand.kind, cand.weight) in (("linear", 1.0), ("product", 0.0)):  # the network alone
            assert np.allclose(blended[:, i], r.network, rtol=1e-5)
        if cand.kind == "linear" and cand.weight == cand.cross == cand.ngram == 0.0:  # the bigram alone, fitted on the training files
            a = int(np.argmin(np.abs(ALPHAS - cand.alpha)))
            assert np.allclose(blended[-1, i], r.bigram[a], rtol=1e-5)


def blend_fold(net: list[list[float]], big: float, best: list[float], at: int, tokens: float = 100.0) -> FoldResult:
    """A fold whose every blend scores `net` except candidate `at`, which scores `best` at the last step."""
    blended = [[list(n) for _ in BLEND_CANDIDATES] for n in net]
    blended[-1][at] = best
    return FoldResult(held_out=["x"], tokens=[tokens / 2, tokens / 2], steps=[10 * i for i in range(len(net))],
                      network=net, bigram=[[big / 2, big / 2]] * len(ALPHAS), blended=blended)


def test_the_blend_is_kept_only_when_it_wins_on_folds_it_was_not_chosen_on():
    net = [[200, 200], [160, 160]]  # per code 3.2, bigram 3.3
    i = next(k for k, c in enumerate(BLEND_CANDIDATES) if c.kind == "linear" and c.weight == 0.5)
    folds = [blend_fold(net, 330, [140, 140], i) for _ in range(3)]  # every fold prefers the same blend
    d = decide(folds, 6, 10)
    assert d.keep_blend and d.kept == "blend" and d.blend == "linear" and d.blend_weights == [0.5, 0.5]
    assert d.blend_step == 10 and d.stored_step == 10 and math.isclose(d.blend_mean, 2.8)
    assert d.blend_nll == pytest.approx([2.8, 2.8]) and d.as_dict()["kept"] == "blend"
    lines = PriorSummary(folds=d.as_dict()).folds_lines()
    assert "  kept: a blend of the network and the bigram, perplexity 16.44" in lines
    assert "    shares by level: network [0.5, 0.5]" in lines
    # each fold prefers a blend no other fold does: chosen on the others, it does no better than the network
    j = [k for k, c in enumerate(BLEND_CANDIDATES) if c.kind == "product" and c.weight > 0][:3]
    lucky = [blend_fold(net, 330, [100, 100], j[f]) for f in range(3)]
    d = decide(lucky, 6, 10)
    assert d.blend_mean_fitted < d.network_mean and math.isclose(d.blend_mean, 3.2) and not d.keep_blend
    assert d.kept == "network" and d.stored_step == d.best_step
    # older decisions (no blend fields) still load
    old = {k: v for k, v in d.as_dict().items() if not k.startswith("blend") and k not in ("keep_blend", "kept")}
    old = {k: v for k, v in old.items() if not k.endswith("perplexity")}
    assert FoldDecision(**old).kept == "network"


def test_train_prior_stores_a_blend_that_generate_samples_from(tiny_model, dataset, tmp_path, monkeypatch):
    path = tmp_path / "m.distill"
    shutil.copyfile(tiny_model, path)

    def blend_wins(folds, n_files, fold_steps, cross=True, memory=True):  # the real decision, the blend forced to win
        d = decide(folds, n_files, fold_steps, cross, memory=False)
        d.blend, d.blend_alpha, d.blend_weights, d.blend_step = "linear", 0.1, [0.4, 0.6], folds[0].steps[1]
        d.cross_weights = []
        d.blend_mean, d.keep_blend = 0.0, True
        return d

    monkeypatch.setattr(prior_loop, "decide", blend_wins)
    tc = PriorTrainConfig(steps=4, eval_every=2, augment=False)
    train_prior(PriorRequest(model_path=path, run_dir=tmp_path / "run", data_dir=dataset, train=tc,
                             prior_overrides={"d_model": 32, "layers": 1, "context": 8}))
    doc = load_model_file(path).doc["prior"]
    assert doc["config"]["blend"] == "linear" and doc["config"]["blend_weights"] == [0.4, 0.6]
    assert doc["fallback"] is None and doc["folds"]["kept"] == "blend" and doc["architecture"] == "transformer"
    prior = Prior.from_model_file(path)
    assert prior.model.use_blend
    # the stored bigram is every file's, as the folds fitted it
    codes = FileCodes(["a"], [np.zeros((2, 1), dtype=np.int64)], [], [])
    assert blend_bigram(codes, prior.codebook_sizes, 0.1)[0][0].shape == (prior.codebook_sizes[0],)
    assert prior.model.bigram.abs().sum() > 0
    grid = prior.generate(12, SamplingSettings(seed=0))
    assert grid.shape == (2, 12) and np.array_equal(grid, prior.generate(12, SamplingSettings(seed=0)))


def test_eval_compares_a_blend_with_the_bigram_it_holds():
    """`eval --generation` measures a blended prior against its own stored bigram, not one refitted on the corpus."""
    from types import SimpleNamespace

    from distill_tui.analysis.generated import stored_bigram

    blended = PriorModel(cfg(blend="linear", blend_weights=[0.5, 0.5])).eval()
    starts, trans = bigram_log_tables(grids(3), SIZES, 0.5)
    blended.set_bigram(starts, trans)
    held = stored_bigram(SimpleNamespace(model=blended, cfg=blended.cfg))
    assert held is not None
    for got, want in zip(held[1], trans, strict=True):
        assert np.allclose(got, want, atol=1e-5)
    assert stored_bigram(SimpleNamespace(model=PriorModel(cfg()).eval(), cfg=cfg())) is None  # a plain network holds none
