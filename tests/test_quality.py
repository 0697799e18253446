"""The metrics behave as their definitions say."""

from __future__ import annotations

import numpy as np

from distill_tui.analysis.quality import (
    log_spectral_distance,
    measure,
    mel_distance,
    multi_resolution_stft,
    oracle,
)

from .conftest import SR, synth


def test_identical_signals_score_zero_and_gain_is_ignored():
    x = synth("pluck", 0.5)
    assert log_spectral_distance(x, x) < 1e-3
    assert log_spectral_distance(x, 0.3 * x) < 1e-3  # RMS is matched first
    assert mel_distance(x, x, SR) < 1e-3
    assert multi_resolution_stft(x, x) < 1e-3


def test_distances_grow_with_damage():
    x = synth("pad", 1.0)
    rng = np.random.default_rng(0)
    small = x + 0.01 * rng.standard_normal(len(x)).astype(np.float32)
    large = x + 0.2 * rng.standard_normal(len(x)).astype(np.float32)
    a, b = measure(x, small, SR), measure(x, large, SR)
    assert 0 < a.lsd_db < b.lsd_db and a.mel_db < b.mel_db and a.mrstft < b.mrstft


def test_oracle_linear_beats_mel():
    o = oracle(synth("pad", 1.0) + 0.05 * synth("noise", 1.0), SR, 1024, 256)
    assert o.linear.lsd_db < o.mel.lsd_db
