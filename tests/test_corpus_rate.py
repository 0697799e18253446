"""A model trains at its folder's rate (full band for 44.1/48 kHz libraries) unless a rate is asked for."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from distill_tui.cli import main
from distill_tui.config import stft_sizes
from distill_tui.data.dataset import corpus_rate, find_audio
from distill_tui.persistence.model_file import read_document
from distill_tui.train.events import read_events

from .conftest import TINY_TOML

RATES = {"hat1": 44100, "hat2": 44100, "pad": 44100, "old_kick": 22050, "snare48": 48000, "crash96": 96000,
         "phone": 8000}


def _mixed_folder(tmp_path):
    folder = tmp_path / "kit"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, sr in RATES.items():
        t = np.arange(int(0.5 * sr)) / sr
        x = 0.3 * rng.standard_normal(len(t)) * np.exp(-20 * t) + 0.2 * np.sin(2 * np.pi * 330 * t)
        sf.write(folder / f"{name}.wav", x.astype(np.float32), sr)
    return folder


def test_stft_sizes_keep_a_46_ms_window():
    assert stft_sizes(22050) == (1024, 256) and stft_sizes(24000) == (1024, 256)
    assert stft_sizes(44100) == (2048, 512) and stft_sizes(48000) == (2048, 512)


def test_the_most_common_rate_wins_and_lower_files_are_named(tmp_path):
    choice = corpus_rate(find_audio(_mixed_folder(tmp_path)))
    assert choice.sample_rate == 44100 and choice.counts[44100] == 3
    assert sorted(r for _, r in choice.upsampled) == [8000, 22050]
    assert "44100 Hz" in choice.describe() and "3 of 7" in choice.describe()


def test_a_folder_of_96k_files_trains_at_48k_and_one_of_8k_at_16k(tmp_path):
    for sr in (96000, 8000):
        folder = tmp_path / str(sr)
        folder.mkdir()
        for i in range(2):
            sf.write(folder / f"{i}.wav", np.zeros(sr // 2, np.float32) + 0.1, sr)
        assert corpus_rate(find_audio(folder)).sample_rate == {96000: 48000, 8000: 16000}[sr]


def _train(tmp_path, folder, *extra):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY_TOML)
    out = tmp_path / "m.distill"
    rc = main(["train", str(folder), "-o", str(out), "--steps", "4", "--config", str(cfg), "--quiet", *extra])
    assert rc == 0
    return read_document(out), list(read_events(out.with_name(out.name + ".run")))


def test_training_follows_the_folders_rate_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "cache"))
    doc, events = _train(tmp_path, _mixed_folder(tmp_path))
    assert (doc.spectrogram.sample_rate, doc.spectrogram.n_fft, doc.spectrogram.hop_length) == (44100, 2048, 512)
    assert doc.model.n_bins == 1025
    rate = [e for e in events if e["event"] == "rate"]
    assert rate and "44100 Hz" in rate[0]["message"]
    warned = [e["message"] for e in events if e["event"] == "warning" and e.get("key") == "upsampled"]
    assert warned and "old_kick.wav (22050 Hz)" in warned[0] and "phone.wav (8000 Hz)" in warned[0]


def test_an_asked_rate_is_kept_with_its_stft_scaled(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "cache"))
    doc, events = _train(tmp_path, _mixed_folder(tmp_path), "--sample-rate", "22050")
    assert (doc.spectrogram.sample_rate, doc.spectrogram.n_fft, doc.spectrogram.hop_length) == (22050, 1024, 256)
    assert not [e for e in events if e["event"] == "rate"]
