"""The prior's k-fold decision: folds by file, per-level NLL, no leak of held-out sounds, the verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from distill_tui.analysis.memorization import ALPHAS, bigram_log_tables, bigram_nll
from distill_tui.model.prior import (
    PriorConfig,
    PriorModel,
    flatten_codes,
    sequences_nll,
    slot_inputs,
    token_loss,
    token_nll,
)
from distill_tui.persistence.document import PriorSummary
from distill_tui.train.prior_data import FileCodes, WindowSampler
from distill_tui.train.prior_folds import (
    FoldResult,
    bigram_level_nll,
    decide,
    make_folds,
    network_level_nll,
    run_fold,
)
from distill_tui.train.prior_loop import PriorTrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZES = [8, 16]


def cfg() -> PriorConfig:
    return PriorConfig(levels=2, codebook_sizes=list(SIZES), context=8, d_model=32, layers=1, heads=4, dropout=0.0,
                       bigram_base=True)


def grids(n: int, seed: int = 0, length: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.stack([rng.integers(0, k, length + 3 * i) for k in SIZES]) for i in range(n)]


@pytest.mark.parametrize("n", [1, 3, 5, 7, 20])
def test_every_file_is_held_out_exactly_once(n):
    folds = make_folds(n, seed=3)
    assert len(folds) == min(5, n)  # leave-one-out up to 5 files
    held = sorted(i for f in folds for i in f)
    assert held == list(range(n))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert make_folds(n, seed=3) == folds


def test_a_fold_never_trains_on_a_copy_of_a_held_out_sound():
    g = grids(4)
    codes = FileCodes([f"f{i}" for i in range(4)], g, [g[0] + 0, g[1] + 0, g[2] + 0],
                      [frozenset({0}), frozenset({1, 2}), frozenset({2})], ["pitch+1", "mix", "gain+6"])
    train, val, aug = codes.fold([2])
    assert len(train) == 3 and len(val) == 1 and val[0] is g[2]
    assert len(aug) == 1 and aug[0] is codes.augmented[0]  # the mix and the gain copy both hold sound 2


def test_per_level_nll_adds_up_to_the_totals():
    c = cfg()
    train, val = grids(3, 1), grids(2, 2)
    big = bigram_level_nll(train, val, SIZES)  # (A, Q)
    for a in (0, 12, 24):
        total, _ = bigram_nll(train, val, SIZES, float(ALPHAS[a]))
        assert math.isclose(big[a].sum(), total, rel_tol=1e-9)
    torch.manual_seed(0)
    model = PriorModel(c).eval()
    model.set_bigram(*bigram_log_tables(train, SIZES, 0.3))
    torch.nn.init.normal_(model.head.weight, std=0.3)
    net = network_level_nll(model, val)
    total, _ = sequences_nll(model, [torch.from_numpy(flatten_codes(v, c)) for v in val])
    assert net.shape == (2,) and math.isclose(net.sum(), total, rel_tol=1e-6)
    # level 1 alone: the head's level-1 part zeroed leaves level 1 exactly the bigram's
    with torch.no_grad():
        model.head.weight[: SIZES[0]] = 0
    first, _ = bigram_nll(train, [v[:1] for v in val], SIZES[:1], 0.3)
    assert math.isclose(network_level_nll(model, val)[0], first, rel_tol=1e-5)


def test_label_smoothing_stays_inside_each_level():
    c = cfg()
    torch.manual_seed(0)
    model = PriorModel(c).eval()
    torch.nn.init.normal_(model.head.weight, std=1.0)
    seq = torch.from_numpy(flatten_codes(grids(1)[0], c))[None]  # (1, N)
    x = slot_inputs(c, seq, 0, 0, 16)
    target = seq[:, :16].clone()
    target[0, -1] = -1  # padding
    plain = token_nll(model, x, target)
    assert torch.equal(token_loss(model, x, target), plain)
    smooth = token_loss(model, x, target, 0.1)
    assert torch.isfinite(smooth).all() and smooth[0, -1] == 0
    logp = torch.log_softmax(model(x), dim=-1)[0, 0]  # slot 0: level 1's codes only
    expected = 0.9 * plain[0, 0] - 0.1 * logp[: SIZES[0]].mean()
    assert torch.isclose(smooth[0, 0], expected, rtol=1e-5)


def fold(net: list[list[float]], big: float, steps: list[int], tokens: float = 100.0) -> FoldResult:
    return FoldResult(held_out=["x"], tokens=[tokens / 2, tokens / 2], steps=steps, network=net,
                      bigram=[[big / 2, big / 2]] * len(ALPHAS))


def test_the_decision_takes_the_best_mean_step_and_keeps_the_network_only_when_it_wins():
    # fold-mean per-code NLL at steps 0, 10, 20: (4, 3, 3.5) for the network, the bigram 3.2
    a = fold([[200, 200], [140, 160], [170, 180]], 320, [0, 10, 20])
    b = fold([[200, 200], [160, 140], [180, 170]], 320, [0, 10, 20])
    d = decide([a, b], 8, 20)
    assert d.best_step == 10 and d.keep_network and math.isclose(d.network_mean, 3.0)
    assert math.isclose(d.bigram_perplexity, math.exp(3.2)) and d.folds == 2 and d.fold_steps == 20
    assert d.network_nll == pytest.approx([3.0, 3.0]) and d.network_nll_spread == pytest.approx([0.2828, 0.2828], abs=1e-3)
    worse = decide([fold([[200, 200], [170, 170]], 300, [0, 10])] * 2, 8, 10)
    assert not worse.keep_network and worse.best_step == 10
    lines = PriorSummary(folds=d.as_dict()).folds_lines()
    assert lines[0] == "how it was chosen (sounds held out of training, mean of 2 folds):"
    assert lines[2] == "  kept: the network" and lines[-2:] == ["    level 1 3.00±0.28 against 3.20±0.00",
                                                            "    level 2 3.00±0.28 against 3.20±0.00"], lines
    assert PriorSummary().folds_lines() is None and PriorSummary(folds={"folds": 2}).folds_lines() is None


def test_a_fold_trains_on_its_training_files_and_scores_the_held_out_ones():
    c = cfg()
    g = grids(4, 5)
    codes = FileCodes([f"f{i}" for i in range(4)], g, [], [])
    tc = PriorTrainConfig(steps=12, eval_every=5, batch_size=4, label_smoothing=0.1)
    r = run_fold(c, tc, codes, [1, 3], 12)
    assert r.steps == [0, 5, 10, 12] and r.held_out == ["f1", "f3"]
    assert len(r.network) == 4 and all(len(v) == 2 for v in r.network)
    assert r.tokens == [g[1].shape[1] + g[3].shape[1]] * 2
    expected = bigram_level_nll([g[0], g[2]], [g[1], g[3]], SIZES)
    assert np.allclose(r.bigram, expected) and r.bigram_augmented == []
    # before training the network is the bigram it starts from (alpha 0.1)
    start, _ = bigram_nll([g[0], g[2]], [g[1], g[3]], SIZES, 0.1)
    assert math.isclose(sum(r.network[0]), start, rel_tol=1e-5)


def test_window_sampler_still_reads_the_grids():
    c = cfg()
    x, t = WindowSampler(c, grids(2), 0.5, 0).batch(3, 0.0)
    assert x.tok.shape == t.shape == (3, c.context * c.levels)
