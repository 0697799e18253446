"""Measures of generated sounds (analysis/generation.py) and periodic masks (codes/masks.py), on synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from distill_tui.analysis.generation import (
    column_copy_rate,
    frame_distances,
    loop_seam,
    novelty,
    plausibility,
)
from distill_tui.codes.masks import beat_mask, every_nth, region_mask
from distill_tui.errors import BadInputError


def _brute_plausibility(gen: np.ndarray, train: list[np.ndarray], w: int) -> list[float]:
    """Each back-to-back window's least mean per-frame RMS dB distance, by loops."""
    out = []
    for s in range(0, gen.shape[1] - w + 1, w):
        best = np.inf
        for t in train:
            for j in range(t.shape[1] - w + 1):
                d = np.sqrt(np.mean((gen[:, s : s + w] - t[:, j : j + w]) ** 2, axis=0)).mean()
                best = min(best, d)
        out.append(best)
    return out


def test_frame_distances_are_rms_db_differences():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-90, 0, (40, 7)), rng.uniform(-90, 0, (40, 5))
    want = np.sqrt(((a[:, :, None] - b[:, None, :]) ** 2).mean(axis=0))
    assert np.allclose(frame_distances(a, b), want, atol=2e-3)


def test_plausibility_matches_brute_force_nearest_window():
    rng = np.random.default_rng(1)
    train = [rng.uniform(-90, 0, (16, 30)), rng.uniform(-90, 0, (16, 12))]
    gen = rng.uniform(-90, 0, (16, 25))
    got = plausibility([gen], train, window_frames=6, floor_db=-90.0)
    want = _brute_plausibility(gen, train, 6)
    assert got.windows == 4  # 25 frames -> four back-to-back windows of 6
    assert got.mean_lsd_db == pytest.approx(float(np.mean(want)), abs=1e-3)


def test_plausibility_is_zero_for_a_copied_stretch_and_grows_with_a_shift():
    rng = np.random.default_rng(2)
    train = rng.uniform(-90, 0, (20, 40))
    copy = train[:, 7:19].copy()  # a verbatim stretch, not aligned to a window boundary of the training sound
    assert plausibility([copy], [train], 6, -90.0).mean_lsd_db == pytest.approx(0.0, abs=0.02)  # float32: ~0.01 dB
    louder = plausibility([copy + 6.0], [train], 6, -90.0).mean_lsd_db
    assert louder == pytest.approx(6.0, abs=0.02)  # every bin 6 dB off: RMS 6 dB per frame


def test_plausibility_pads_short_training_sounds_with_silence():
    hit = np.full((8, 3), -10.0)
    gen = np.concatenate([hit, np.full((8, 5), -90.0)], axis=1)  # the hit, then silence
    assert plausibility([gen], [hit], 8, -90.0).mean_lsd_db == pytest.approx(0.0, abs=0.02)


def test_column_copy_rate_counts_whole_columns_of_eight():
    rng = np.random.default_rng(3)
    train = rng.integers(0, 64, (3, 40))
    gen = train[:, 5:21].copy()  # 16 positions: 9 column 8-grams, all copied
    assert column_copy_rate([gen], [train]) == 1.0
    gen[2, 12] = (gen[2, 12] + 1) % 64  # one cell of the finest level changed: windows 5..8 hold it
    assert column_copy_rate([gen], [train]) == pytest.approx(5 / 9)
    shifted = train.copy()
    shifted[1] = np.roll(shifted[1], 1)  # level 2 moved by a position: no whole column matches
    assert column_copy_rate([shifted], [train]) == 0.0


def test_novelty_of_a_copy_and_of_noise():
    rng = np.random.default_rng(4)
    train = [rng.integers(0, 64, (2, 50))]
    copy = novelty([train[0][:, 10:42]], train, [64, 64])
    assert copy.copy_rate_columns == 1.0 and copy.copy_rate_tokens == 1.0 and copy.nearest_hamming == 0.0
    noise = novelty([rng.integers(0, 64, (2, 40))], train, [64, 64])
    assert noise.copy_rate_columns == 0.0 and noise.nearest_hamming > 0.8


def test_loop_seam_compares_the_wrap_with_the_median_step():
    ramp = np.linspace(0, 1, 10)[None] * np.arange(1, 5)[:, None] * 10  # (4, 10): steady steps up
    steps = np.sqrt(np.mean((np.arange(1, 5) * 10 / 9) ** 2))
    s = loop_seam(ramp)
    assert s.median_jump_db == pytest.approx(steps)
    assert s.seam_db == pytest.approx(9 * steps)  # the wrap falls all the way back
    assert s.ratio == pytest.approx(9.0) and not s.seamless
    tri = np.concatenate([ramp, ramp[:, ::-1][:, 1:-1]], axis=1)  # up then down: the wrap is one step
    t = loop_seam(tri)
    assert t.ratio == pytest.approx(1.0) and t.seamless


def test_masks_every_nth_and_every_other_beat():
    m = every_nth(3, 20, 4, 14, 3, levels=[1, 2])
    assert m.shape == (3, 20) and not m[0].any()
    assert np.flatnonzero(m[1]).tolist() == [4, 7, 10, 13]
    assert np.array_equal(m[1], m[2])
    # 120 BPM = 0.5 s a beat; 0.125 s a position -> 4 positions a beat; off-beats of 2:18 are 6..9, 14..17
    b = beat_mask(2, 24, 2, 18, 120.0, 0.125)
    assert np.flatnonzero(b[0]).tolist() == [6, 7, 8, 9, 14, 15, 16, 17]
    on = beat_mask(2, 24, 2, 18, 120.0, 0.125, beat=0)
    assert np.flatnonzero(on[1]).tolist() == [2, 3, 4, 5, 10, 11, 12, 13]
    assert region_mask(2, 10, 3, 5).sum() == 4
    # counted from the sound's start (the editor): beats 0..3, 4..7, 8..11, 12..15, 16..19; the off-beats inside 2:18
    from_zero = beat_mask(2, 24, 2, 18, 120.0, 0.125, origin=0)
    assert np.flatnonzero(from_zero[0]).tolist() == [4, 5, 6, 7, 12, 13, 14, 15]


@pytest.mark.parametrize("call", [
    lambda: every_nth(2, 10, 0, 10, 0),
    lambda: every_nth(2, 10, 5, 3, 2),
    lambda: beat_mask(2, 10, 0, 10, 0.0, 0.1),
    lambda: beat_mask(2, 10, 0, 10, 6000.0, 0.1),  # a beat shorter than a position
    lambda: beat_mask(2, 10, 0, 3, 120.0, 0.125),  # shorter than two beats: no off-beat
    lambda: beat_mask(2, 24, 9, 12, 120.0, 0.125, origin=0),  # inside the sound's third beat, an on-beat
    lambda: region_mask(2, 10, 0, 4, levels=[2]),
])
def test_masks_refuse_what_cannot_be_regenerated(call):
    with pytest.raises(BadInputError):
        call()


DEMO = Path(__file__).parent.parent / "samples" / "demo.distill"


@pytest.mark.skipif(not DEMO.exists(), reason="the bundled demo model samples/demo.distill is missing")
def test_generation_report_on_the_demo_uses_the_priors_own_bigram():
    from distill_tui.analysis.generated import generation_report, stored_bigram
    from distill_tui.audio.io import load_audio
    from distill_tui.inference.codec import load_codec
    from distill_tui.inference.generate import Prior

    codec, prior = load_codec(DEMO), Prior.from_model_file(DEMO)
    starts, trans = stored_bigram(prior)
    table = prior.model.bigram.numpy()
    assert np.allclose(trans[1], table[64:128, 64:128]) and np.allclose(starts[0], table[128 + 0, :64])
    assert np.allclose(np.exp(trans[0]).sum(axis=1), 1.0, atol=1e-4)  # rows are distributions
    corpus = [load_audio(p, codec.spec.sample_rate).samples for p in sorted((DEMO.parent / "sounds").glob("*.wav"))[:3]]
    r = generation_report(codec, prior, corpus, 2, 16, seed=1, loops=1)
    d = r.as_dict()
    assert d["bigram_source"].startswith("the prior's own table")
    assert d["network"]["windows"] == d["bigram"]["windows"] == 2  # 16 positions = 0.74 s: one 0.5-s window each
    assert d["loops"]["loops"] == 1 and d["plain_wraps"]["loops"] == 2
    assert 0 < d["network"]["plausibility_db"] < 60 and 0 <= d["network"]["copy_rate_columns"] <= 1


def test_eval_refuses_bad_generation_flags_at_once(capsys):
    from distill_tui.cli import main

    assert main(["eval", str(DEMO), str(DEMO.parent / "sounds"), "--generation", "0"]) == 2
    assert "--generation must be at least 1" in capsys.readouterr().err


def test_audio_loop_seam_hears_a_cut_and_not_a_whole_period():
    from distill_tui.analysis.generation import audio_loop_seam

    sr = 8000
    t = np.arange(8000) / sr
    tone = np.sin(2 * np.pi * 250 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))  # whole periods of tone and tremolo
    s = audio_loop_seam(tone, 256, 64)
    assert s.seamless and s.ratio < 1.5  # the wrap is like any other step (not exactly 1: the steps vary)
    jump = audio_loop_seam(np.concatenate([np.zeros(4000), tone[:4000]]), 256, 64)  # silence, then tone to the end
    assert not jump.seamless and jump.ratio > 5
    rolled = audio_loop_seam(np.roll(np.concatenate([np.zeros(4000), tone[:4000]]), 2000), 256, 64)
    assert rolled.ratio < 1.5  # the same loop started elsewhere: its wrap now falls inside the tone, which flows
