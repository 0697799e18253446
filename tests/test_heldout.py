"""Pitch-shifted copies of the training sounds (data/copies.py): made at the right pitch, cached, drawn by the
crop sampler at the asked share, and absent (the crops unchanged) when not asked for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from distill_tui.config import SpectrogramConfig, TrainConfig, from_dict
from distill_tui.data import copies as copies_mod
from distill_tui.data.copies import copy_cache, pitch_copies
from distill_tui.data.dataset import Augment, CropSampler, scan, split
from distill_tui.errors import BadInputError

from .conftest import SR, write_dataset

LMMS = Path("/usr/share/lmms/samples")


def peak_frequency(x: np.ndarray, sr: int) -> float:
    """The frequency of the strongest partial (Hz), refined by a parabola through the three top bins."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=8 * len(x)))
    k = int(np.argmax(spec))
    a, b, c = np.log(spec[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (8 * len(x))


def sine(freq: float, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


@pytest.mark.parametrize("semitones", [-2.0, -1.0, 1.0, 2.0])
def test_a_copy_is_the_sound_repitched_by_the_asked_semitones(semitones):
    spec = SpectrogramConfig()
    (copy,) = pitch_copies(sine(1000.0), spec, [semitones])
    ratio = 2 ** (semitones / 12)
    assert peak_frequency(copy.samples, SR) == pytest.approx(1000.0 * ratio, rel=1e-3)
    assert len(copy.samples) == pytest.approx(SR / ratio, abs=2)  # a sampler's repitch: higher is shorter
    assert copy.samples.dtype == np.float32 and copy.semitones == semitones
    assert copy.ref_db == pytest.approx(float(
        copies_mod.magnitude_db(torch.from_numpy(copy.samples)[None], spec).max()))


def test_copies_come_from_the_cache_the_second_time(monkeypatch):
    spec, x = SpectrogramConfig(), sine(440.0, 0.5)
    first = pitch_copies(x, spec, [-1.0, 0.0, 2.0], copy_cache(spec))
    assert [c.semitones for c in first] == [-1.0, 2.0]  # 0 is the original itself: no copy

    def no_resampling(*a, **k):
        raise AssertionError("resampled again")

    monkeypatch.setattr(copies_mod, "pitch_shift", no_resampling)
    second = pitch_copies(x, spec, [-1.0, 2.0], copy_cache(spec))
    assert all(np.array_equal(a.samples, b.samples) and a.ref_db == b.ref_db for a, b in zip(first, second, strict=True))
    with pytest.raises(AssertionError, match="resampled again"):  # other samples: another entry
        pitch_copies(x * 0.5, spec, [-1.0], copy_cache(spec))


def test_the_sampler_draws_copies_at_the_asked_share_and_each_at_its_own_pitch(tmp_path):
    spec = SpectrogramConfig()
    for i, freq in enumerate((500.0, 700.0)):
        sf.write(tmp_path / f"tone{i}.wav", sine(freq, 2.0), SR)
    files = scan(tmp_path, spec).files
    sampler = CropSampler(split(files, 31 * 256), spec, 32, seed=0, augment=Augment(pitch_copies=[-2.0, 2.0], copy_share=0.5))
    assert [len(c) for c in sampler.copies] == [2, 2]
    assert sampler.copy_bytes == sum(c.samples.nbytes for per in sampler.copies for c in per) > 0
    drawn = [sampler._version(0, files[0]) for _ in range(2000)]
    share = np.mean([f is not files[0] for f in drawn])
    assert share == pytest.approx(0.5, abs=0.04)
    for c in sampler.copies[0]:
        semitones = float(c.digest.rsplit("pitch", 1)[1])
        assert peak_frequency(c.samples, SR) == pytest.approx(500.0 * 2 ** (semitones / 12), rel=2e-3)
    # in the batches: the loudest bin of a crop inside the 500 Hz tone sits where the original or a copy puts it
    hz = SR / spec.n_fft
    batch = sampler.crops(64)
    expected = {round(500.0 * 2 ** (s / 12) / hz) for s in (-2, 0, 2)} | {round(700.0 * 2 ** (s / 12) / hz) for s in (-2, 0, 2)}
    peaks = batch.db[:, :, 16].argmax(dim=1)  # a middle frame: inside the sound for most crops
    inside = batch.inside[:, 16]
    found = {int(p) for p in peaks[inside]}
    assert found <= {e + d for e in expected for d in (-1, 0, 1)}
    assert len(found & {round(500.0 * 2 ** (2 / 12) / hz) + d for d in (-1, 0, 1)}) >= 1  # a copy was drawn


def test_without_copies_the_crops_are_what_they_were_and_plain_batches_ignore_copies(tmp_path):
    write_dataset(tmp_path, 4)
    spec = SpectrogramConfig()
    files = scan(tmp_path, spec).files
    sp = split(files, 31 * 256)
    plain = CropSampler(sp, spec, 32, seed=0).crops(8)
    off = CropSampler(sp, spec, 32, seed=0, augment=Augment.of(TrainConfig())).crops(8)
    assert torch.equal(plain.db, off.db) and torch.equal(plain.inside, off.inside)
    with_copies = CropSampler(sp, spec, 32, seed=0, augment=Augment(pitch_copies=[1.0]))
    assert torch.equal(with_copies.batch(8, augment=False), plain.db)  # k-means init: originals only
    assert not torch.equal(CropSampler(sp, spec, 32, seed=0, augment=Augment(pitch_copies=[1.0])).batch(8), plain.db)


def test_held_out_crops_are_not_copied(tmp_path):
    spec = SpectrogramConfig()
    sf.write(tmp_path / "long.wav", sine(300.0, 3.0), SR)
    files = scan(tmp_path, spec).files
    sp = split(files, 31 * 256, holdout="crops")
    sampler = CropSampler(sp, spec, 32, augment=Augment(pitch_copies=[-12.0]))
    usable = len(files[0].samples) - sp.holdout_samples
    assert len(sampler.copies[0][0].samples) == pytest.approx(2 * usable, abs=4)


def test_the_config_fields_default_off_and_are_bounded():
    tc = TrainConfig()
    assert tc.augment_pitch_copies == [] and not Augment.of(tc).pitch_copies
    assert from_dict(TrainConfig, {"augment_pitch_copies": [-2, 1.5], "augment_copy_share": 0.3}).augment_pitch_copies == [-2, 1.5]
    with pytest.raises(BadInputError, match="augment_pitch_copies"):
        from_dict(TrainConfig, {"augment_pitch_copies": [24.0]})
    with pytest.raises(BadInputError, match="augment_copy_share"):
        from_dict(TrainConfig, {"augment_copy_share": 1.5})


@pytest.mark.skipif(not (LMMS / "stringsnpads").is_dir(), reason="needs lmms-common (apt-get install lmms-common)")
def test_a_real_pad_copy_keeps_its_fine_structure():
    """The spectrogram warp smoothed real spectra (mean bin-to-bin step 5.59 -> 4.81 dB, RESULTS.md); a resampled
    copy of a real pad keeps about the original's step."""
    spec = SpectrogramConfig(sample_rate=44100, n_fft=2048, hop_length=512)
    pad = next(iter(sorted((LMMS / "stringsnpads").glob("*.ogg"))))
    (f,) = scan(pad, spec).files

    def roughness(x: np.ndarray, ref: float) -> float:
        db = copies_mod.magnitude_db(torch.from_numpy(x[: 4 * 44100])[None], spec)[0] - ref
        loud = db[1:] > -60
        return float((db[1:] - db[:-1]).abs()[loud].mean())

    (copy,) = pitch_copies(f.samples, spec, [1.0])
    assert roughness(copy.samples, copy.ref_db) == pytest.approx(roughness(f.samples, f.ref_db), rel=0.1)


def test_a_run_with_copies_trains_and_its_model_file_records_them(dataset, tmp_path):
    from distill_tui.persistence.model_file import read_document
    from distill_tui.train.vqvae_loop import train_vqvae

    from .test_train import tiny_request

    res = train_vqvae(tiny_request(dataset, tmp_path, steps=6, augment_pitch_copies=[-1.0, 2.0], augment_copy_share=0.3))
    tc = read_document(res.output).training.train
    assert tc.augment_pitch_copies == [-1.0, 2.0] and tc.augment_copy_share == 0.3
