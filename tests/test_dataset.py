"""Dataset scanning: skipped files with reasons, the cache, padding of short files, the split."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
import torch

from distill_tui.config import SpectrogramConfig
from distill_tui.data.dataset import Augment, CropSampler, scan, split, validation_items
from distill_tui.errors import BadInputError

from .conftest import SR, synth, write_dataset


def test_scan_skips_bad_files_with_reasons(tmp_path):
    write_dataset(tmp_path, 4)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....garbage")
    sf.write(tmp_path / "silent.wav", np.zeros(SR, dtype=np.float32), SR)
    (tmp_path / "notes.txt").write_text("not audio, not even looked at")
    res = scan(tmp_path, SpectrogramConfig())
    assert len(res.files) == 4
    reasons = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in res.skipped}
    assert set(reasons) == {"broken.wav", "silent.wav"}
    assert reasons["silent.wav"] == "all silent"
    for f in res.files:
        assert np.abs(f.samples).max() == pytest.approx(10 ** (-1 / 20), rel=1e-4)


def test_zero_usable_files_is_a_clear_error(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"")
    with pytest.raises(BadInputError, match="no usable audio files"):
        scan(tmp_path, SpectrogramConfig())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BadInputError, match="no usable audio files"):
        scan(empty, SpectrogramConfig())
    with pytest.raises(BadInputError, match="no such folder"):
        scan(tmp_path / "nope", SpectrogramConfig())


def test_second_scan_comes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_CACHE", str(tmp_path / "cache"))
    write_dataset(tmp_path / "d", 6)
    first = scan(tmp_path / "d", SpectrogramConfig())
    assert first.cached == 0

    def no_decoding(*a, **k):
        raise AssertionError("audio was decoded again")

    with monkeypatch.context() as m:
        m.setattr("distill_tui.data.dataset.load_audio", no_decoding)
        t = time.perf_counter()
        second = scan(tmp_path / "d", SpectrogramConfig())
    assert second.cached == 6 and time.perf_counter() - t < 3.0
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(first.files, second.files, strict=True))
    # a changed file is read again; the others still come from the cache
    sf.write(next((tmp_path / "d").rglob("*.wav")), synth("sweep", 0.5), SR)
    third = scan(tmp_path / "d", SpectrogramConfig())
    assert third.cached == 5


def test_short_files_are_padded_not_dropped(tmp_path):
    sf.write(tmp_path / "tiny.wav", synth("kick", 0.05), SR)
    sf.write(tmp_path / "long.wav", synth("pad", 2.0), SR)
    spec = SpectrogramConfig()
    res = scan(tmp_path, spec)
    assert len(res.files) == 2
    sp = split(res.files, 31 * 256, holdout="files")
    assert not sp.by_file and sp.holdout == "crops"  # fewer than 8 files: validate on held-out crops
    sampler = CropSampler(sp, spec, 32, seed=0)
    tiny = next(f for f in res.files if f.path.name == "tiny.wav")
    starts = set()
    for _ in range(20):  # the whole sound, at a random place inside the crop, silence around it
        crop = sampler.crop(tiny)
        start = int(np.flatnonzero(crop)[0])
        assert len(crop) == 31 * 256 and np.array_equal(crop[start : start + len(tiny.samples)], tiny.samples)
        assert not crop[:start].any() and not crop[start + len(tiny.samples) :].any()
        starts.add(start)
    assert len(starts) > 10
    batch = sampler.batch(8)
    assert batch.shape == (8, 513, 32) and float(batch.max()) <= 0 and float(batch.min()) >= spec.floor_db
    long = next(f for f in res.files if f.path.name == "long.wav")
    for _ in range(50):  # training crops never reach into the held-out tail
        c = sampler.crop(long)
        tail = long.samples[-sp.holdout_samples:]
        assert not any(np.array_equal(c[-100:], tail[-100:]) for _ in [0])
    assert len(validation_items(sp)) == 2


def test_split_by_file_with_enough_files(tmp_path):
    write_dataset(tmp_path, 12)
    res = scan(tmp_path, SpectrogramConfig())
    sp = split(res.files, 31 * 256, holdout="files")
    assert sp.by_file and len(sp.val) == 1 and len(sp.train) == 11
    assert not {f.digest for f in sp.val} & {f.digest for f in sp.train}


def test_by_default_every_file_trains_and_validation_is_the_fit(tmp_path):
    write_dataset(tmp_path, 12)
    res = scan(tmp_path, SpectrogramConfig())
    sp = split(res.files, 31 * 256)
    assert sp.holdout == "none" and not sp.by_file and sp.train == res.files
    assert [a for a, _ in validation_items(sp)] == [f.samples for f in res.files]
    with pytest.raises(BadInputError, match="unknown holdout"):
        split(res.files, 31 * 256, holdout="some")


def test_crops_of_long_files_sometimes_reach_past_their_edges(tmp_path):
    sf.write(tmp_path / "long.wav", synth("pad", 2.0), SR)
    res = scan(tmp_path, SpectrogramConfig())
    sampler = CropSampler(split(res.files, 31 * 256), SpectrogramConfig(), 32, seed=1)
    crops = [sampler.crop(res.files[0]) for _ in range(400)]
    assert all(len(c) == 31 * 256 for c in crops)
    lead = sum(not c[:64].any() for c in crops)  # silence before the sound's start
    tail = sum(not c[-64:].any() for c in crops)  # silence after its end
    inner = sum(c[:64].any() and c[-64:].any() for c in crops)
    assert lead > 0 and tail > 0 and inner > 300


def test_a_click_shorter_than_half_a_window_is_used(tmp_path):
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "click.wav", (0.3 * rng.standard_normal(150)).astype(np.float32), SR)  # 7 ms
    res = scan(tmp_path, SpectrogramConfig())
    assert len(res.files) == 1 and not res.skipped and np.isfinite(res.files[0].ref_db)
    sp = split(res.files, 31 * 256)
    batch = CropSampler(sp, SpectrogramConfig(), 32).batch(2)
    # relative to the file's own loudest bin; at another alignment to the frames it peaks a little lower
    assert batch.shape == (2, 513, 32) and -12.0 < float(batch.max()) <= 3.0


def test_crops_say_which_frames_are_inside_the_sound(tmp_path):
    sf.write(tmp_path / "tiny.wav", synth("kick", 0.05), SR)  # 1102 samples: frames centred on 0..1024
    sf.write(tmp_path / "long.wav", synth("pad", 2.0), SR)
    res = scan(tmp_path, SpectrogramConfig())
    sampler = CropSampler(split(res.files, 31 * 256), SpectrogramConfig(), 32, seed=0)
    batch = sampler.crops(64)
    assert batch.db.shape == (64, 513, 32) and batch.inside.shape == (64, 32) and batch.inside.dtype == torch.bool
    counts = batch.inside.sum(dim=1)
    assert set(counts.tolist()) >= {5, 32}  # the kick's 5 frames; a crop inside the pad
    for row, inside in zip(batch.db, batch.inside, strict=True):
        frames = torch.nonzero(inside).flatten()
        far = torch.ones(32, dtype=torch.bool)  # frames whose window (+-2 frames) cannot reach the sound
        far[max(int(frames[0]) - 2, 0) : int(frames[-1]) + 3] = False
        if far.any():
            assert float(row[:, far].max()) == -90.0


def test_augmented_crops_vary_deterministically_per_seed_and_keep_shapes(tmp_path):
    write_dataset(tmp_path, 4)
    spec = SpectrogramConfig()
    files = scan(tmp_path, spec).files
    aug = Augment(gain_db=6.0, semitones=0.5)

    def draw(seed, augment):
        return CropSampler(split(files, 31 * 256), spec, 32, seed=seed, augment=augment).crops(8)

    plain, a, b, other = draw(0, None), draw(0, aug), draw(0, aug), draw(1, aug)
    assert a.db.shape == plain.db.shape == (8, 513, 32)
    assert torch.equal(a.db, b.db) and torch.equal(a.inside, b.inside)  # the same seed: the same crops
    assert not torch.equal(a.db, plain.db) and not torch.equal(a.db, other.db)
    assert torch.equal(a.inside, plain.inside)  # the same places in the sounds: only the look varies
    assert float(a.db.min()) >= spec.floor_db and float(a.db.max()) <= 0.0
    assert torch.equal(CropSampler(split(files, 31 * 256), spec, 32, seed=0, augment=aug).batch(8, augment=False),
                       plain.db)  # k-means init asks for plain crops


def test_pitch_shift_moves_partials_by_the_drawn_ratio_and_gain_lowers_by_the_drawn_db():
    db = torch.full((3, 513, 4), -90.0)
    db[:, 200] = 0.0  # one partial at bin 200
    out = Augment(semitones=1.0).apply(db, np.random.default_rng(5), -90.0)
    ratios = 2.0 ** (np.random.default_rng(5).uniform(-1.0, 1.0, size=3) / 12)
    for row, ratio in zip(out, ratios, strict=True):
        assert abs(int(row[:, 0].argmax()) - 200 * ratio) <= 1.0, (int(row[:, 0].argmax()), 200 * ratio)
    assert float(out.max()) <= 0.0 and float(out.min()) >= -90.0
    quiet = Augment(gain_db=6.0).apply(db, np.random.default_rng(5), -90.0)
    gains = np.random.default_rng(5).uniform(-6.0, 0.0, size=3)
    assert np.allclose(quiet[:, 200, 0].numpy(), gains, atol=1e-5)
    assert float(quiet.min()) == -90.0  # the floor stays the floor
