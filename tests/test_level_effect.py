"""The per-sound level meter: muting a level that carries the sound moves it far; one that adds nothing, not at all."""

from __future__ import annotations

import numpy as np
import torch

from distill_tui.analysis.level_effect import level_effects, spectral_distance_db


def fake_decoder(weights: list[float]):
    """A 'decoder' whose level q adds weights[q] * (code / 10) dB to every bin."""
    def decode(codes: np.ndarray, muted) -> torch.Tensor:  # noqa: ANN001
        db = torch.full((8, codes.shape[1] * 4), -30.0)
        for q, w in enumerate(weights):
            if q not in muted:
                db += w * torch.as_tensor(np.repeat(codes[q], 4), dtype=torch.float32) / 10
        return db
    return decode


def test_a_level_that_carries_the_sound_moves_it_and_a_silent_one_does_not():
    codes = np.array([[10, 20, 30, 40], [5, 5, 5, 5], [7, 1, 3, 2]])
    eff = level_effects(fake_decoder([1.0, 0.0, 2.0]), codes, [64, 8, 64])
    assert [e.level for e in eff] == [0, 1, 2]
    assert abs(eff[0].muted_db - np.mean([1, 2, 3, 4])) < 1e-5  # |w * code / 10| per frame, averaged
    assert eff[1].muted_db == 0.0 and eff[1].rerolled_db == 0.0  # a level that adds nothing, whatever its codes
    assert eff[0].rerolled_db > 0.5 and eff[2].rerolled_db > 0.5
    assert abs(eff[2].muted_db - np.mean([1.4, 0.2, 0.6, 0.4])) < 1e-5


def test_levels_already_muted_stay_muted_and_count_zero():
    codes = np.array([[10, 20], [30, 40]])
    eff = level_effects(fake_decoder([1.0, 1.0]), codes, [64, 64], muted=[1])
    assert eff[1].muted_db == eff[1].rerolled_db == 0.0 and abs(eff[0].muted_db - 1.5) < 1e-5


def test_the_distance_floors_both_spectra():
    a, b = torch.full((4, 3), -200.0), torch.full((4, 3), -90.0)
    assert spectral_distance_db(a, b) == 0.0  # both below the floor: nobody hears a difference


def test_rerolling_is_seeded_and_words_follow_the_one_scale():
    from distill_tui.analysis.closeness import closeness

    codes = np.array([[10, 20, 30, 40]])
    a = level_effects(fake_decoder([1.0]), codes, [64], seed=3)
    assert a == level_effects(fake_decoder([1.0]), codes, [64], seed=3)
    assert [closeness(x).word for x in (0.3, 1.99, 2.0, 6.0, 6.01, 12.0)] == ["close", "close", "changed", "changed",
                                                                               "rough", "rough"]
