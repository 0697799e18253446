"""The metrics behave as their definitions say."""

from __future__ import annotations

import numpy as np
import pytest

from distill_tui.analysis import quality
from distill_tui.analysis.quality import (
    full_band_lsd,
    full_band_measure,
    log_spectral_distance,
    measure,
    mel_distance,
    multi_resolution_stft,
    oracle,
    scoring_rate,
    stft_size,
)
from distill_tui.audio.io import resample

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


def hat(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """A hi-hat-like burst: differentiated white noise (most of its power above a quarter of the rate), decaying."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = np.diff(rng.standard_normal(n + 1)) * np.exp(-np.arange(n) / sr * 15)
    return (0.4 * x).astype(np.float32)


@pytest.mark.parametrize(("rate", "expected"), [(None, (1024, 256)), (16000, (512, 128)), (22050, (1024, 256)),
                                                (24000, (1024, 256)), (44100, (2048, 512)), (48000, (2048, 512)),
                                                (96000, (4096, 1024))])
def test_stft_size_follows_the_rate(rate, expected):
    assert stft_size(rate) == expected
    if rate:
        assert abs(expected[0] / rate - 0.0464) / 0.0464 < 0.45  # about 46 ms


def test_the_scoring_stft_is_the_one_of_the_rate(monkeypatch):
    seen = []
    real = quality.stft

    def spy(audio, n_fft, hop):
        seen.append((n_fft, hop))
        return real(audio, n_fft, hop)

    monkeypatch.setattr(quality, "stft", spy)
    x = synth("pluck", 0.3, sr=44100)
    quality.log_spectral_distance(x, x)
    assert set(seen) == {(1024, 256)}  # no rate: as before
    seen.clear()
    quality.log_spectral_distance(x, x, 44100)
    assert set(seen) == {(2048, 512)}
    seen.clear()
    quality.multi_resolution_stft(x, x, 44100)
    assert set(seen) == {(1024, 256), (2048, 512), (4096, 1024)}
    seen.clear()
    quality.mel_distance(x, x, 44100)
    assert set(seen) == {(2048, 512)}
    seen.clear()
    quality.full_band_lsd(synth("pluck", 0.3, sr=96000), synth("pluck", 0.3, sr=96000), 96000)
    assert set(seen) == {(2048, 512)}  # 96 kHz is scored at 48 kHz
    assert scoring_rate(96000) == 48000 and scoring_rate(44100) == 44100


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000, 96000])
def test_identical_audio_scores_zero_at_any_rate(rate):
    x = synth("pluck", 0.4, sr=rate) + hat(0.4, rate)
    assert log_spectral_distance(x, x, rate) < 1e-3
    assert full_band_lsd(x, 0.5 * x, rate) < 1e-3
    r = full_band_measure(x, rate, x, rate)
    assert r.lsd_db < 1e-3 and r.mel_db < 1e-3 and r.mrstft < 1e-3


def test_a_lost_band_is_charged_over_the_full_band_only():
    x = hat(0.5, 44100)
    at_model_rate = resample(x, 44100, 22050)  # a perfect decode by a 22.05 kHz model
    band_limited = log_spectral_distance(at_model_rate, at_model_rate, 22050)
    full = full_band_measure(x, 44100, at_model_rate, 22050)
    assert band_limited < 1e-3
    assert full.lsd_db > 10 and full.mel_db > 5
    # a tone with nothing above 11 kHz loses nothing
    tone = synth("pad", 0.5, sr=44100)
    assert full_band_measure(tone, 44100, resample(tone, 44100, 22050), 22050).lsd_db < 1.0
