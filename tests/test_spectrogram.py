"""The spectral front end: STFT round trip, the Slaney mel filterbank, and fast Griffin-Lim."""

from __future__ import annotations

import numpy as np
import torch

from distill_tui.analysis.quality import log_spectral_distance
from distill_tui.audio.spectrogram import (
    from_db,
    griffin_lim,
    initial_phase,
    istft,
    magnitude_db,
    mel_filterbank,
    mel_to_linear_nnls,
    stft,
    to_relative_db,
)
from distill_tui.config import SpectrogramConfig

from .conftest import synth


def test_stft_istft_round_trip():
    x = torch.from_numpy(synth("pad", 0.5))[None]
    y = istft(stft(x, 1024, 256), 1024, 256, length=x.shape[1])
    assert torch.allclose(x, y, atol=1e-5)


def test_relative_db_floor_is_removed_on_inversion():
    cfg = SpectrogramConfig()
    x = torch.from_numpy(synth("pluck", 0.5))[None]
    rel = to_relative_db(magnitude_db(x, cfg), cfg.floor_db)
    assert float(rel.max()) == 0.0 and float(rel.min()) >= cfg.floor_db
    mag = from_db(rel, cfg.floor_db)
    assert float(mag[rel <= cfg.floor_db].abs().max()) == 0.0  # the floor never comes back as energy


def test_slaney_mel_filterbank_shape_and_area():
    fb = mel_filterbank(22050, 1024, 128)
    assert fb.shape == (128, 513) and (fb >= 0).all()
    # Slaney normalization: every filter has (about) the same area in Hz
    hz_per_bin = 22050 / 1024
    areas = fb.sum(dim=1) * hz_per_bin
    assert torch.allclose(areas[20:], torch.ones_like(areas[20:]), rtol=0.15)


def test_nnls_mel_inversion_is_nonnegative_and_consistent():
    fb = mel_filterbank(22050, 1024, 128)
    power = stft(torch.from_numpy(synth("pad", 0.3))[None], 1024, 256).abs().pow(2)
    mel = fb @ power
    lin = mel_to_linear_nnls(mel, fb)
    assert (lin >= 0).all()
    assert float(((fb @ lin) - mel).norm() / mel.norm()) < 0.1


def test_griffin_lim_is_deterministic_and_close_to_the_original():
    x = synth("pad", 1.0)
    mag = stft(torch.from_numpy(x)[None], 1024, 256).abs()
    a = griffin_lim(mag, 1024, 256, iters=32, length=len(x))
    b = griffin_lim(mag, 1024, 256, iters=32, length=len(x))
    assert torch.equal(a.audio, b.audio)
    assert log_spectral_distance(x, a.audio[0].numpy()) < 3.0
    # from a random phase, fast (momentum) Griffin-Lim beats plain Griffin-Lim at the same iteration count
    start = initial_phase(tuple(mag.shape))
    plain = griffin_lim(mag, 1024, 256, iters=16, momentum=0.0, length=len(x), phase=start)
    fast = griffin_lim(mag, 1024, 256, iters=16, momentum=0.99, length=len(x), phase=start)
    assert log_spectral_distance(x, fast.audio[0].numpy()) < log_spectral_distance(x, plain.audio[0].numpy())


def test_griffin_lim_batched():
    xs = np.stack([synth("pad", 0.5), synth("pluck", 0.5)])
    mag = stft(torch.from_numpy(xs), 1024, 256).abs()
    out = griffin_lim(mag, 1024, 256, iters=8, length=xs.shape[1])
    assert out.audio.shape == (2, xs.shape[1]) and out.phase.shape == mag.shape
