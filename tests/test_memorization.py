"""The memorization guard: bigram baseline, 8-gram copy rate, nearest-grid distance, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from distill_tui.analysis.memorization import (
    bigram_baseline,
    bigram_nll,
    copy_rate,
    copy_rate_by_level,
    nearest_hamming,
    verdict,
)
from distill_tui.inference.generate import Prior, SamplingSettings
from distill_tui.model.prior import PriorConfig, PriorModel, token_nll
from distill_tui.train.prior_loop import WindowSampler

SIZES = [16, 16]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_grids(n: int, positions: int, seed: int, sizes=SIZES) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.stack([rng.integers(0, k, positions) for k in sizes]) for _ in range(n)]


def test_verbatim_training_grids_are_all_copies():
    train = random_grids(5, 40, 0)
    assert copy_rate(train, train, SIZES) == 1.0
    assert nearest_hamming(train, train) == 0.0
    crops = [g[:, 7:30] for g in train]  # a copy that starts mid-sound is still a copy
    assert copy_rate(crops, train, SIZES) == 1.0
    assert nearest_hamming(crops, train) == 0.0


def test_unrelated_grids_are_not_copies():
    train, other = random_grids(5, 40, 0), random_grids(5, 40, 1)
    assert copy_rate(other, train, SIZES) < 0.01
    assert nearest_hamming(other, train) > 0.7


def test_ngrams_match_only_at_the_same_level():
    a = np.array([[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]])
    swapped = a[::-1].copy()
    assert copy_rate([swapped], [a], [8, 8], n=4) == 1.0  # identical rows: the same stream
    b = np.array([[1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2]])
    assert copy_rate([b[::-1].copy()], [b], [8, 8], n=4) == 0.0  # level ids are offset


def test_noisy_fine_level_hides_copying_that_the_per_level_rate_shows():
    train = random_grids(4, 40, 0)
    gen = [np.stack([g[0], r[1]]) for g, r in zip(train, random_grids(4, 40, 5), strict=True)]  # coarse copied
    assert copy_rate(gen, train, SIZES) < 0.05
    by_level = copy_rate_by_level(gen, train)
    assert by_level[0] == 1.0 and by_level[1] < 0.05


def test_short_training_sound_is_not_near_everything():
    train = [np.zeros((2, 3), dtype=np.int64)]
    gen = [np.zeros((2, 30), dtype=np.int64)]
    assert nearest_hamming(gen, train) == 0.9  # 27 of 30 positions lie past the training sound's end


def test_bigram_by_hand():
    train = [np.array([[0, 1, 0, 1]])]
    val = [np.array([[0, 1]])]
    total, n = bigram_nll(train, val, [2], alpha=1.0)
    # start: counts {0: 1} -> (1 + 1) / (1 + 2); 0 -> 1: counts {1: 2} -> (2 + 1) / (2 + 2)
    assert n == 2
    assert math.isclose(total, -(math.log(2 / 3) + math.log(3 / 4)))


def test_bigram_learns_a_deterministic_cycle():
    k = 16
    grid = np.stack([np.arange(60) % k, (np.arange(60) * 3) % k])
    res = bigram_baseline([grid], [grid[:, :40]], [k, k])
    assert res.val_perplexity < 1.1 and res.alpha <= 0.01


def test_verdicts():
    assert verdict(1.2, 1.1, 10.0, 0.1).startswith("copying")
    assert verdict(8.0, 2.0, 10.0, 0.7).startswith("copying")
    assert verdict(12.0, 11.0, 10.0, 0.1).startswith("undertrained")
    assert verdict(12.0, 3.0, 10.0, 0.1).startswith("overfitting")
    assert verdict(6.0, 4.0, 10.0, 0.1).startswith("healthy")


def test_a_prior_that_memorized_its_sound_copies_it():
    """Constructed case: a prior trained without regularization on one sound reproduces it."""
    torch.manual_seed(0)
    cfg = PriorConfig(levels=2, codebook_sizes=SIZES, context=16, d_model=48, layers=1, heads=2, dropout=0.0, corrupt=0.0)
    model = PriorModel(cfg)
    train = random_grids(1, 16, 3)
    sampler = WindowSampler(cfg, train, start_share=1.0, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):
        x, target = sampler.batch(4, 0.0)
        loss = token_nll(model, x, target).sum() / (target >= 0).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    generated = list(Prior(model, "fp").generate_batch(4, 16, SamplingSettings(temperature=1.0, seed=0)))
    assert copy_rate(generated, train, SIZES) > 0.9
    assert nearest_hamming(generated, train) < 0.1
    assert copy_rate(random_grids(4, 16, 9), train, SIZES) < 0.05
