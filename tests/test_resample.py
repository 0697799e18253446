"""Sample-rate conversion keeps the whole band (audio/resample.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import distill_tui.audio.resample as rs
from distill_tui.analysis.quality import log_spectral_distance
from distill_tui.audio.io import load_audio
from distill_tui.audio.io import resample as io_resample
from distill_tui.audio.resample import resample

LMMS = Path("/usr/share/lmms/samples")


def band_level_db(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float(10 * np.log10(spec[(f >= lo) & (f < hi)].mean() + 1e-20))


def test_a_tone_near_the_lower_nyquist_survives_loading_at_44khz_and_scoring_back(tmp_path):
    """A 10.8 kHz tone is at 98 % of 22.05 kHz's Nyquist frequency: soxr 'HQ' removed it (its passband ends
    near 91 %); loaded for a 44.1 kHz model and taken back to its own rate, it must be as it went in."""
    sr = 22050
    t = np.arange(sr) / sr
    x = (0.5 * np.sin(2 * np.pi * 10800 * t)).astype(np.float32)
    sf.write(tmp_path / "tone.wav", x, sr, subtype="FLOAT")
    up = load_audio(tmp_path / "tone.wav", 44100).samples
    back = io_resample(up, 44100, sr)
    assert len(up) == 2 * len(x) and len(back) == len(x)
    mid = slice(2000, -2000)
    assert abs(np.sqrt(np.mean(back[mid] ** 2)) - np.sqrt(np.mean(x[mid] ** 2))) < 0.01
    assert np.max(np.abs(back[mid] - x[mid])) < 0.01


@pytest.mark.parametrize("rates", [(22050, 44100), (44100, 48000), (48000, 44100), (8000, 44100), (96000, 48000)])
def test_lengths_and_a_low_tone_at_every_pair_of_rates(rates):
    a, b = rates
    n = int(0.37 * a)
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / a)).astype(np.float32)
    y = resample(x, a, b)
    assert y.dtype == np.float32 and len(y) == round(n * b / a)
    ref = (0.3 * np.sin(2 * np.pi * 440 * np.arange(len(y)) / b)).astype(np.float32)
    mid = slice(len(y) // 8, -len(y) // 8)
    assert np.max(np.abs(y[mid] - ref[mid])) < 1e-3


def test_going_down_leaves_nothing_above_the_new_nyquist_folded_back():
    """A 30 kHz tone at 96 kHz taken to 44.1 kHz must vanish, not alias to 14.1 kHz."""
    x = (0.5 * np.sin(2 * np.pi * 30000 * np.arange(96000) / 96000)).astype(np.float32)
    y = resample(x, 96000, 44100)
    assert np.sqrt(np.mean(y[4000:-4000] ** 2)) < 1e-3


def test_long_sounds_are_done_in_blocks_that_join_seamlessly(monkeypatch):
    rng = np.random.default_rng(0)
    x = np.convolve(rng.standard_normal(200_000), np.ones(8) / 8, "same").astype(np.float32)  # below Nyquist
    whole = resample(x, 44100, 48000)
    monkeypatch.setattr(rs, "BLOCK", 30_000)
    blocks = rs.resample(x, 44100, 48000)
    assert len(blocks) == len(whole)
    assert np.max(np.abs(blocks - whole)) < 1e-4 * np.max(np.abs(whole))


@pytest.mark.skipif(not (LMMS / "beats/electro_beat01.ogg").exists(), reason="needs lmms-common's samples")
def test_a_real_22khz_loop_keeps_its_top_band_through_a_44khz_model_rate():
    x, sr = sf.read(LMMS / "beats/electro_beat01.ogg", dtype="float32")
    x = x.mean(axis=1) if x.ndim > 1 else x
    assert sr == 22050
    back = io_resample(io_resample(x, sr, 44100), 44100, sr)
    # soxr 'HQ' there and back: 4.56 dB full-band LSD, and the 10.5-11 kHz band 30 dB down
    assert log_spectral_distance(x, back[: len(x)], sr) < 0.5
    assert abs(band_level_db(back, sr, 10500, 10950) - band_level_db(x, sr, 10500, 10950)) < 1.0
