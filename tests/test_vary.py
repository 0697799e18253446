"""Variations: kept levels and regions, distinct results, replay by seed, and the `vary` command's bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill_tui.cli import main
from distill_tui.codes.grid import CodeGrid
from distill_tui.errors import BadInputError
from distill_tui.inference.generate import RegionCandidate, SamplingSettings
from distill_tui.inference.variations import (
    NUDGE_SHARES,
    OVERSAMPLE,
    Shape,
    keep_loudness,
    loudness_envelope,
    nudged,
    parse_levels,
    shape_judge,
    vary,
)
from tests.conftest import SR
from tests.test_generate import random_prior

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def source_grid(positions: int = 24, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, positions) for k in (16, 8, 16)])  # (3, positions)


# ------------------------------------------------------------------ the library
def test_variations_keep_the_coarse_level_and_all_differ():
    prior, codes = random_prior(), source_grid()
    result = vary(prior, codes, 5, SamplingSettings(seed=3))
    assert [v.index for v in result.variations] == [1, 2, 3, 4, 5]
    grids = [v.codes for v in result.variations]
    for g in grids:
        assert np.array_equal(g[0], codes[0])  # level 1 kept
        assert not np.array_equal(g, codes)
    assert len({g.tobytes() for g in grids}) == 5
    assert result.keep_levels == [0] and result.region == (0, 24)


def test_a_judge_keeps_the_candidates_that_keep_the_shape_and_still_change_it():
    prior, codes = random_prior(), source_grid()
    judged: list[np.ndarray] = []

    def shape_of(c: np.ndarray) -> Shape:  # a stand-in: the shape and the change follow the finer levels' codes
        return Shape(change_db=float(c[1].sum() % 5), envelope_r=float(c[2].sum() % 100) / 100)

    def judge(c: np.ndarray) -> Shape:
        judged.append(c)
        return shape_of(c)

    result = vary(prior, codes, 3, SamplingSettings(seed=3), judge=judge)
    assert len(judged) == 3 * OVERSAMPLE  # three times as many drawn, each judged once
    shapes = [shape_of(c) for c in judged]
    good = sorted((s for s in shapes if s.keeps_shape and s.audible), key=lambda s: -s.envelope_r)
    kept = [shape_of(v.codes) for v in result.variations]
    assert [v.index for v in result.variations] == [1, 2, 3]
    assert kept[: len(good)] == good[:3]  # the faithful-and-audible ones first, the most faithful first
    if len(good) < 3:  # then those that keep the shape, the most changed first, then the rest
        rest = sorted((s for s in shapes if not (s.keeps_shape and s.audible)),
                      key=lambda s: (not s.keeps_shape, -(s.change_db if s.keeps_shape else s.envelope_r)))
        assert kept[len(good):] == rest[: 3 - len(good)]
    assert len({v.codes.tobytes() for v in result.variations}) == 3


class ToyCodec:
    """A decoder stand-in: level 1 sets each position's loudness, level 2 tilts its spectrum."""

    class cfg:  # noqa: N801 - read as `codec.cfg.stride`
        stride = 4

    class spec:  # noqa: N801 - read as `codec.spec.hop_length`
        hop_length = 256

    def decode_db(self, codes: np.ndarray):
        import torch

        loud = -60.0 + 3.0 * torch.as_tensor(codes[0], dtype=torch.float64)  # (P,)
        tilt = torch.as_tensor(codes[1], dtype=torch.float64)[None, :] * torch.linspace(-1, 1, 8)[:, None]  # (8, P)
        return (loud[None, :] + tilt).repeat_interleave(4, dim=1).float()  # (F=8, P * 4) relative dB


    def decode_db_batch(self, grids: np.ndarray):
        import torch

        return torch.stack([self.decode_db(g) for g in grids])  # (B, F, P * 4)


class SwellingCodec(ToyCodec):
    """As `ToyCodec`, but level 3 also swells or hollows each position: 1.5 dB per code away from 8 (of 16)."""

    def decode_db(self, codes: np.ndarray):
        import torch

        swell = 1.5 * (torch.as_tensor(codes[2], dtype=torch.float32) - 8.0)  # (P,)
        return super().decode_db(codes) + swell.repeat_interleave(4)[None, :]


def test_keep_loudness_pulls_stray_positions_back_and_touches_nothing_else():
    prior, codes = random_prior(), source_grid(positions=24)
    codes[2] = 8  # the source: level 3 neutral everywhere
    codes[0] = np.r_[np.arange(12), np.arange(12)[::-1]]  # a swell, 33 dB of it
    shape = shape_judge(SwellingCodec(), codes)
    assert shape.tolerance_db == 3.0  # half the envelope's spread, at most 3 dB
    drawn = codes.copy()
    drawn[1:, 4:20] = np.random.default_rng(0).integers(0, 8, (2, 16))  # finer levels redrawn; level 3 from 0..7
    loud, _ = shape.per_position(drawn[None])
    before = np.abs(loud[0] - shape.envelope)
    assert (before[4:20] > 3.0).sum() >= 4  # codes far below 8 hollow their positions by up to 12 dB
    fixed = keep_loudness(prior, shape, drawn, [1, 2], (4, 20), SamplingSettings(seed=1), rounds=6)
    loud, _ = shape.per_position(fixed[None])
    after = np.abs(loud[0] - shape.envelope)
    assert after.sum() < before.sum() and (after > 3.0).sum() < (before > 3.0).sum()
    assert np.array_equal(fixed[0], drawn[0])  # the kept level untouched
    assert np.array_equal(fixed[:, :4], drawn[:, :4]) and np.array_equal(fixed[:, 20:], drawn[:, 20:])  # outside
    still = before <= 3.0
    assert np.array_equal(fixed[:, still], drawn[:, still])  # positions within the tolerance keep their codes
    assert shape(fixed).envelope_r > shape(drawn).envelope_r
    again = keep_loudness(prior, shape, drawn, [1, 2], (4, 20), SamplingSettings(seed=1), rounds=6)
    assert np.array_equal(again, fixed)  # the same seed repairs the same way


def test_keep_loudness_leaves_the_columns_past_the_sounds_end_alone():
    """The judge reads only the columns a sound fills (a last column mostly past its end decodes near silence);
    the repair judged by it redrew that tail too, against a near-silent envelope nobody hears."""
    prior, codes = random_prior(), source_grid(positions=24)
    codes[2] = 8
    codes[0] = np.r_[np.arange(12), np.arange(12)[::-1]]
    shape = shape_judge(SwellingCodec(), codes, samples=20 * 4 * 256 + 100)  # 20 columns and a little
    assert shape.heard == 20
    drawn = codes.copy()
    drawn[1:, 4:] = np.random.default_rng(0).integers(0, 8, (2, 20))  # strays everywhere, the tail too
    loud, _ = shape.per_position(drawn[None])
    assert (np.abs(loud[0] - shape.envelope)[20:] > shape.tolerance_db).any()  # the tail strays
    fixed = keep_loudness(prior, shape, drawn, [1, 2], (4, 24), SamplingSettings(seed=1), rounds=6)
    assert not np.array_equal(fixed[:, 4:20], drawn[:, 4:20])  # what is heard is repaired
    assert np.array_equal(fixed[:, 20:], drawn[:, 20:])  # the columns past the end are not


def test_vary_repairs_a_chosen_variation_that_lost_the_shape(monkeypatch):
    from distill_tui.inference import variations

    monkeypatch.setattr(variations, "MAX_NEW_RISE_DB", float("inf"))  # the toy's swells are its attacks: not judged here
    prior, codes = random_prior(), source_grid(positions=24)
    codes[2] = 8
    codes[0] = np.r_[np.arange(12), np.arange(12)[::-1]]
    judge = shape_judge(SwellingCodec(), codes)
    plain = vary(prior, codes, 3, SamplingSettings(seed=4), judge=lambda c: judge(c))  # judged, never repaired
    repaired = vary(prior, codes, 3, SamplingSettings(seed=4), judge=judge)
    assert max(v.shape.envelope_r for v in plain.variations) < 0.9  # each lost some of the swell, so each is repaired
    rs = [v.shape.envelope_r for v in repaired.variations]
    assert sum(r > 0.95 for r in rs) >= 2 and min(rs) >= min(v.shape.envelope_r for v in plain.variations)
    # a repair that would make a variation subtle is not taken: that one stays as drawn
    assert all(v.shape.audible or np.array_equal(v.codes, w.codes)
               for v, w in zip(repaired.variations, plain.variations, strict=True))
    for v in repaired.variations:
        assert v.shape == judge(v.codes)  # the shape reported is the repaired grid's
        assert np.array_equal(v.codes[0], codes[0]) and not np.array_equal(v.codes, codes)
    assert len({v.codes.tobytes() for v in repaired.variations}) == 3


class ClickingCodec(ToyCodec):
    """As `ToyCodec`, but a level-3 code of 15 puts a 30 dB click on the first frame of its position."""

    def decode_db(self, codes: np.ndarray):
        db = super().decode_db(codes)
        for p in np.flatnonzero(np.asarray(codes[2]) == 15):
            db[:, 4 * p] += 30.0
        return db


def test_a_variation_that_adds_a_click_does_not_keep_the_shape():
    """Found by looking at spectrograms (heaven_strings01, a string pad): some variations put broadband clicks into
    it while their loudness envelope still correlated 0.9 with the source's."""
    codes = source_grid(positions=24)
    codes[0], codes[1], codes[2] = 8, 4, 8  # a steady sound: no attack of its own
    judge = shape_judge(ClickingCodec(), codes)
    clicked = codes.copy()
    clicked[2, 10] = 15
    clean = codes.copy()
    clean[1, 10] = (codes[1, 10] + 4) % 8
    a, b = judge(clicked), judge(clean)
    assert a.new_rise_db > 20 and a.envelope_r >= 0.8 and not a.keeps_shape and "a new attack" in a.words()
    assert b.new_rise_db <= 2.0 and b.keeps_shape and "same shape" in b.words()
    assert abs(judge(codes).new_rise_db) < 1e-6  # the source against itself adds nothing

    prior = random_prior()
    judged: list[np.ndarray] = []

    def stand_in(c: np.ndarray) -> Shape:  # audible and faithful, but a 15 at level 3 clicks
        judged.append(c)
        return Shape(3.0, 0.9, 25.0 if (c[2] == 15).any() else 0.0)

    result = vary(prior, codes, 3, SamplingSettings(seed=2), keep_levels=[0, 1], judge=stand_in)
    quiet = sum(not (c[2] == 15).any() for c in judged)
    chosen = [not (v.codes[2] == 15).any() for v in result.variations]
    assert sum(chosen) == min(3, quiet) and chosen == sorted(chosen, reverse=True)  # the clean ones first


def test_each_variation_is_handed_over_as_soon_as_it_is_final(monkeypatch):
    """`on_ready` gets each variation, in order, before the next one's repair begins (the editor plays the first
    while the others are drawn), and they are the ones `vary` returns."""
    from distill_tui.inference import variations

    prior, codes = random_prior(), source_grid(positions=24)
    codes[2] = 8
    codes[0] = np.r_[np.arange(12), np.arange(12)[::-1]]
    judge = shape_judge(SwellingCodec(), codes)
    repairs, handed = [], []
    real = variations.keep_loudness

    def counted(*args, **kwargs):
        repairs.append(len(handed))  # how many were handed over when this repair began
        return real(*args, **kwargs)

    monkeypatch.setattr(variations, "keep_loudness", counted)
    result = vary(prior, codes, 3, SamplingSettings(seed=4), judge=judge, on_ready=handed.append)
    assert repairs == [0, 1, 2]  # every variation repaired, each after the one before was handed over
    assert [v.index for v in handed] == [1, 2, 3]
    assert all(np.array_equal(a.codes, b.codes) and a.shape == b.shape
               for a, b in zip(handed, result.variations, strict=True))


def test_the_shape_judge_measures_change_and_loudness_over_time():
    swell = np.stack([np.r_[np.arange(10), np.arange(10)[::-1]], np.full(20, 2)])  # (2, 20): up, then down
    judge = shape_judge(ToyCodec(), swell)
    same = judge(swell)
    assert same.change_db == pytest.approx(0.0, abs=1e-6) and same.envelope_r == pytest.approx(1.0)
    retimbred = swell.copy()
    retimbred[1] = 6  # another spectrum, the same swell
    other = judge(retimbred)
    assert other.keeps_shape and other.audible and other.envelope_r > 0.95
    shifted = np.stack([np.roll(swell[0], 10), swell[1]])  # down, then up: the swell turned over
    turned = judge(shifted)
    assert not turned.keeps_shape and turned.change_db > 10
    flat = judge(np.stack([np.full(20, 5), swell[1]]))  # no swell at all
    assert not flat.keeps_shape
    steady = shape_judge(ToyCodec(), np.stack([np.full(20, 5), swell[1]]))  # a source with no envelope to keep
    assert steady(shifted).envelope_r == 1.0


def test_the_loudness_envelope_is_per_position_and_floored_80_db_below_its_peak():
    import torch

    db = torch.full((8, 12), -90.0)
    db[:, :4] = 0.0  # the first position loud, the others at the floor
    env = loudness_envelope(db, 4)
    assert env.shape == (3,) and env[0] == pytest.approx(0.0, abs=1e-6) and env[1] == pytest.approx(-80.0)


def test_same_seed_same_variations_other_seed_others():
    prior, codes = random_prior(), source_grid()
    a = vary(prior, codes, 3, SamplingSettings(seed=11))
    b = vary(prior, codes, 3, SamplingSettings(seed=11))
    c = vary(prior, codes, 3, SamplingSettings(seed=12))
    assert all(np.array_equal(x.codes, y.codes) for x, y in zip(a.variations, b.variations, strict=True))
    assert not np.array_equal(a.variations[0].codes, c.variations[0].codes)
    drawn = vary(prior, codes, 3, SamplingSettings())  # no seed: the drawn one replays the set
    again = vary(prior, codes, 3, SamplingSettings(seed=drawn.seed))
    assert all(np.array_equal(x.codes, y.codes) for x, y in zip(drawn.variations, again.variations, strict=True))


def test_a_region_leaves_everything_outside_it_alone():
    prior, codes = random_prior(), source_grid()
    result = vary(prior, codes, 3, SamplingSettings(seed=1), keep_levels=[], region=(8, 16))
    for v in result.variations:
        assert np.array_equal(v.codes[:, :8], codes[:, :8]) and np.array_equal(v.codes[:, 16:], codes[:, 16:])
        assert not np.array_equal(v.codes[:, 8:16], codes[:, 8:16])


def test_repeated_candidates_are_drawn_again():
    prior, codes = random_prior(), source_grid()
    real = prior.region_candidates
    calls = []

    def first_round_repeats(*args, **kwargs):
        found = real(*args, **kwargs)
        calls.append(kwargs["candidates"])
        if len(calls) == 1:  # the source itself, and one candidate twice
            return [RegionCandidate(codes.copy(), 0.0), found[0], RegionCandidate(found[0].codes.copy(), 0.0)]
        return found

    prior.region_candidates = first_round_repeats
    result = vary(prior, codes, 3, SamplingSettings(seed=2))
    assert result.rounds == 2 and calls == [3, 2]
    grids = [v.codes.tobytes() for v in result.variations]
    assert len(set(grids)) == 3 and codes.tobytes() not in grids


def test_too_few_possible_variations_is_refused():
    prior, codes = random_prior(), source_grid()
    # one cell of one level with only 2 codes allowed: at most 2 grids, one of which may be the source
    with pytest.raises(BadInputError, match="only .* of 3 variations differed"):
        vary(prior, codes, 3, SamplingSettings(seed=0, top_k=2), keep_levels=[0, 2], region=(4, 5), max_rounds=3)


@pytest.mark.parametrize(("text", "match"), [("4", "outside this model's levels"), ("0", "outside"),
                                             ("1,2,3", "keeps every level"), ("a", "level numbers")])
def test_keep_levels_outside_the_model_are_refused(text, match):
    with pytest.raises(BadInputError, match=match):
        parse_levels(text, 3)
    assert parse_levels("2,1", 3) == [0, 1] and parse_levels("none", 3) == []


def neighbour_tables(sizes=(16, 8, 16), k: int = 3) -> list[np.ndarray]:
    """Per level, code c's near codes are c+1..c+k (wrapping): easy to check by hand."""
    return [(np.arange(n)[:, None] + np.arange(1, k + 1)[None]) % n for n in sizes]


def test_nudged_moves_only_the_chosen_levels_inside_the_region_and_only_to_near_codes():
    codes, near = source_grid(positions=400), neighbour_tables()
    rng = np.random.default_rng(0)
    out = nudged(codes, [0], (100, 300), near, 0.4, rng)
    moved = np.flatnonzero(out[0] != codes[0])
    assert moved.min() >= 100 and moved.max() < 300
    assert 0.3 < moved.size / 200 < 0.5  # about the share asked for
    step = (out[0, moved] - codes[0, moved]) % 16
    assert set(step.tolist()) <= {1, 2, 3}  # every moved code went to one of its near codes
    assert np.array_equal(out[1:], codes[1:])  # the other levels are untouched
    one = nudged(codes[:, :3], [0], (0, 3), near, 0.0, np.random.default_rng(1))
    assert (one[0] != codes[0, :3]).sum() == 1  # a share that rounds to nothing still moves one position


def test_nudged_variations_move_the_kept_level_a_little_and_replay_by_seed():
    prior, codes, near = random_prior(), source_grid(positions=40), neighbour_tables()
    result = vary(prior, codes, 4, SamplingSettings(seed=7), nudge=near)  # unjudged: one from each group, in order
    moves = []
    for v in result.variations:
        moved = np.flatnonzero(v.codes[0] != codes[0])
        moves.append(moved.size)
        assert moved.size < 40  # level 1 moved at some positions at most, never redrawn
        assert set(((v.codes[0, moved] - codes[0, moved]) % 16).tolist()) <= {1, 2, 3}
        assert not np.array_equal(v.codes[1:], codes[1:])
    assert moves[0] == 0 and all(m > 0 for m in moves[1:])  # the first group keeps level 1 as it is
    assert moves[1] < moves[3]  # a fifth of the positions moved, then seven tenths
    assert len({v.codes.tobytes() for v in result.variations}) == 4
    again = vary(prior, codes, 4, SamplingSettings(seed=7), nudge=near)
    assert all(np.array_equal(x.codes, y.codes) for x, y in zip(result.variations, again.variations, strict=True))
    drawn = vary(prior, codes, 2, SamplingSettings(), nudge=near)  # no seed: one is drawn, and replays the set
    replay = vary(prior, codes, 2, SamplingSettings(seed=drawn.seed), nudge=near)
    assert all(np.array_equal(x.codes, y.codes) for x, y in zip(drawn.variations, replay.variations, strict=True))
    # the candidates come from every share: with a judge that takes them in the order drawn, all groups show
    shares = {round(float((v.codes[0] != codes[0]).mean()), 1) for v in
              vary(prior, codes, len(NUDGE_SHARES) * 2, SamplingSettings(seed=3), nudge=near).variations}
    assert len(shares) >= 2
    with pytest.raises(BadInputError, match="keep at least one level"):
        vary(prior, codes, 2, SamplingSettings(seed=0), keep_levels=[], nudge=near)


def test_a_judge_takes_the_variations_that_keep_the_kept_levels_before_those_a_nudge_moved():
    prior, codes, near = random_prior(), source_grid(positions=40), neighbour_tables()
    result = vary(prior, codes, 4, SamplingSettings(seed=5), nudge=near, judge=lambda c: Shape(3.0, 0.9))
    moved = [v.moved for v in result.variations]  # every candidate is as good: the unmoved ones come first
    assert moved[:3] == [0.0, 0.0, 0.0] and moved[3] > 0  # the first group holds 3 of the 12 drawn
    assert all(np.array_equal(v.codes[0], codes[0]) for v in result.variations[:3])
    subtle = vary(prior, codes, 4, SamplingSettings(seed=5), nudge=near,  # too close unless level 1 moved
                  judge=lambda c: Shape(1.0 + float((c[0] != codes[0]).mean()) * 5, 0.9))
    assert all(v.moved > 0 for v in subtle.variations)


def test_more_variations_than_one_batch_holds_are_drawn_in_batches():
    """Found by hand: `vary -n 30` (the command allows 100) said "candidates must be from 1 to 64, got 90", a limit
    of the sampler's batch, after loading everything."""
    prior, codes = random_prior(), source_grid(positions=40)
    for nudge in (None, neighbour_tables()):
        result = vary(prior, codes, 30, SamplingSettings(seed=9), nudge=nudge, judge=lambda c: Shape(3.0, 0.9))
        assert len(result.variations) == 30 and len({v.codes.tobytes() for v in result.variations}) == 30
        again = vary(prior, codes, 30, SamplingSettings(seed=9), nudge=nudge, judge=lambda c: Shape(3.0, 0.9))
        assert all(np.array_equal(x.codes, y.codes) for x, y in zip(result.variations, again.variations, strict=True))


def test_n_below_one_is_refused():
    with pytest.raises(BadInputError, match="at least 1"):
        vary(random_prior(), source_grid(), 0, SamplingSettings(seed=0))


# ------------------------------------------------------------------ the command
def vary_cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["vary", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_vary_writes_n_sounds_and_codes_that_keep_level_one(prior_model, pad, tmp_path, capsys):
    out = tmp_path / "vars"
    code, stdout, err = vary_cli(capsys, prior_model, pad, "-n", 3, "-o", out, "--seed", 4, "--json")
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["keep_levels"] == [1] and len(result["variations"]) == 3
    grids = [CodeGrid.load(out / f"pad-var{k}.codes.json") for k in (1, 2, 3)]
    first = grids[0].codes
    for k, g in enumerate(grids, 1):
        audio, rate = sf.read(out / f"pad-var{k}.wav")
        assert rate == g.sample_rate and len(audio) > 0.5 * SR
        assert np.array_equal(g.codes[0], first[0]) and g.name == f"pad-var{k}"
    assert len({g.codes.tobytes() for g in grids}) == 3
    # a codes file of this model is a SOUND too
    code, _, err = vary_cli(capsys, prior_model, out / "pad-var1.codes.json", "-n", 1, "-o", out, "--seed", 1)
    assert code == 0, err
    assert np.array_equal(CodeGrid.load(out / "pad-var1-var1.codes.json").codes[0], first[0])


def test_vary_writes_and_says_each_variation_as_soon_as_it_is_final(prior_model, pad, tmp_path, capsys, monkeypatch):
    """A long texture's variations take a while: each file is written, and its line printed, before the next
    variation is finished, not all at the end."""
    from distill_tui.inference import variations

    out, seen = tmp_path / "vars", []
    real = variations.vary

    def watched(*args, on_ready=None, **kwargs):
        def ready(v):
            on_ready(v)
            seen.append(([(out / f"pad-var{k}.wav").exists() for k in (1, 2, 3)], capsys.readouterr().out))

        return real(*args, on_ready=ready, **kwargs)

    monkeypatch.setattr(variations, "vary", watched)
    code, _, err = vary_cli(capsys, prior_model, pad, "-n", 3, "-o", out, "--seed", 4)
    assert code == 0, err
    assert [files for files, _ in seen] == [[True, False, False], [True, True, False], [True, True, True]]
    assert [said.count("pad-var") for _, said in seen] == [1, 1, 1]  # one line each time, its own
    assert all(f"pad-var{k}.wav: " in said for k, (_, said) in enumerate(seen, 1))


def test_vary_never_overwrites_without_force(prior_model, pad, tmp_path, capsys):
    out = tmp_path / "vars"
    assert vary_cli(capsys, prior_model, pad, "-n", 2, "-o", out, "--seed", 1)[0] == 0
    before = (out / "pad-var2.codes.json").read_bytes()
    code, _, err = vary_cli(capsys, prior_model, pad, "-n", 2, "-o", out, "--seed", 9)
    assert code == 2 and err.count("\n") == 1 and "-o" in err and "--force" in err
    assert (out / "pad-var2.codes.json").read_bytes() == before
    assert vary_cli(capsys, prior_model, pad, "-n", 2, "-o", out, "--seed", 9, "--force")[0] == 0
    assert (out / "pad-var2.codes.json").read_bytes() != before


def test_vary_bad_input_is_one_line_naming_the_argument(prior_model, tiny_model, pad, tmp_path, capsys):
    out = tmp_path / "vars"
    other = tmp_path / "other.codes.json"
    doc = CodeGrid(codes=np.zeros((2, 4), dtype=np.int64), model_fingerprint="0123456789abcdef",
                   codebook_sizes=[16, 16], sample_rate=SR, hop_length=256, stride=4).to_json()
    other.write_text(json.dumps(doc))
    cases = [
        (["-n", 0], "-n must be from 1 to 100, got 0"),
        (["-n", -3], "-n must be from 1 to 100"),
        (["-n", 100000], "-n must be from 1 to 100"),  # was drawn side by side until the process was killed
        (["--seed", 10**20], "seed must be a whole number from 0 to 2^63 - 1"),  # was "ValueError: Overflow ...", exit 1
        (["--keep-levels", 3], "--keep-levels 3 is outside this model's levels (1 to 2)"),
        (["--keep-levels", "1,2"], "--keep-levels 1,2 keeps every level"),
        (["--keep-levels", "none", "--nudge"], "--nudge moves the kept levels, and --keep-levels none keeps none"),
        (["--max-seconds", 0.5], "SOUND is 1.2 s long, over the limit of 0.5 s"),
    ]
    for extra, message in cases:
        code, _, err = vary_cli(capsys, prior_model, pad, "-o", out, *extra)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err, (extra, err)
    code, _, err = vary_cli(capsys, tiny_model, pad, "-o", out)
    assert code == 2 and "has no prior" in err and err.count("\n") == 1
    code, _, err = vary_cli(capsys, prior_model, other, "-o", out)
    assert code == 2 and "another model" in err and "other.codes.json" in err
    assert not out.exists()  # nothing written by any refusal
    # a folder that cannot be made said "FileNotFoundError: [Errno 2] ..." after the sampling, exit 1
    for bad in (Path("/proc/vars/deeper"), pad / "vars"):
        code, _, err = vary_cli(capsys, prior_model, pad, "-o", bad)
        assert code == 1 and err.startswith(f"error: {bad}: cannot make the folder for the variations here (")
        assert err.count("\n") == 1 and "Errno" not in err, err
    code, _, err = vary_cli(capsys, prior_model, pad, "-o", out / "a" / "b", "--keep-levels", 3)
    assert code == 2 and not out.exists()  # the folders made to find out are gone again
    code, _, err = vary_cli(capsys, prior_model, pad, "-o", out, "-n", 22, "--seed", 1)  # 66 drawn: two batches
    assert code == 0 and len(list(out.glob("pad-var*.wav"))) == 22, err


def test_vary_says_how_far_each_variation_went_and_when_the_sound_has_little_to_vary(prior_model, pad, tmp_path,
                                                                                        capsys):
    out = tmp_path / "vars"
    code, stdout, err = vary_cli(capsys, prior_model, pad, "-n", 2, "-o", out, "--seed", 4, "--json")
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    for item in result["variations"]:
        assert item["change_db"] >= 0 and -1 <= item["envelope_r"] <= 1
        assert item["words"].endswith("over time") and f"({item['change_db']:.1f} dB)" in item["words"]
    assert result["subtle"] == all(item["change_db"] < 2.0 for item in result["variations"])
    code, stdout, err = vary_cli(capsys, prior_model, pad, "-n", 2, "-o", out, "--seed", 4, "--force")
    lines = stdout.strip().splitlines()
    assert code == 0 and all(line.endswith("over time") for line in lines[:2])
    assert ("--keep-levels none" in stdout) == result["subtle"]
    code, stdout, err = vary_cli(capsys, prior_model, pad, "-n", 1, "-o", out, "--seed", 4, "--force", "--any-shape")
    assert code == 0 and "of the varied codes changed" in stdout and "note:" not in stdout  # unjudged: no words


def test_vary_nudge_moves_level_one_a_little_and_says_so(prior_model, pad, tmp_path, capsys):
    out = tmp_path / "vars"
    code, stdout, err = vary_cli(capsys, prior_model, pad, "-n", 2, "-o", out, "--seed", 4, "--json")
    assert code == 0, err
    plain = [CodeGrid.load(out / f"pad-var{k}.codes.json") for k in (1, 2)]
    code, stdout, err = vary_cli(capsys, prior_model, pad, "-n", 4, "-o", out, "--seed", 4, "--nudge", "--force",
                                 "--any-shape")  # unjudged: one from each group, in order
    assert code == 0, err
    assert "(keeping level 1, moved a little, seed 4)" in stdout
    nudged_grids = [CodeGrid.load(out / f"pad-var{k}.codes.json") for k in (1, 2, 3, 4)]
    moved = [float((g.codes[0] != plain[0].codes[0]).mean()) for g in nudged_grids]
    assert moved[0] == 0 and all(0 < m < 1 for m in moved[1:]), moved  # none moved, then some positions
    assert stdout.count("the kept codes moved at") == 3
    assert all(g.source["variation"]["nudged"] is True for g in nudged_grids)
    assert plain[0].source["variation"]["nudged"] is False


def test_the_words_for_a_variation_follow_the_closeness_scale():
    assert Shape(1.2, 0.95).words() == "subtle (1.2 dB), same shape over time"
    assert Shape(3.0, 0.5).words() == "changed (3.0 dB), a new shape over time"
    assert Shape(7.5, 0.9).words().startswith("rough (7.5 dB)")


def test_the_shape_judge_leaves_out_the_column_past_the_sounds_end():
    """Found on real pads (rave_choir01, 0.42 s: 9 whole columns and a tenth mostly past the end): the last
    column decodes near silence, so every variation of a steady sound "kept the shape" at r 0.98 while its audio,
    which ends where the sound does, correlated 0.58. Only the columns the sound fills are judged."""
    steady = np.stack([np.r_[10, 12, 11, 10, 12, 11, 10, 12, 11, 0], np.full(10, 2)])  # (2, 10); the last column past the end
    wobbly = steady.copy()
    wobbly[0, :9] = [12, 10, 10, 12, 11, 12, 11, 10, 10]  # another wobble, the same level: not the source's shape
    whole = shape_judge(ToyCodec(), steady)
    assert whole(wobbly).envelope_r > 0.9  # the silent tail makes any steady grid look faithful
    heard = shape_judge(ToyCodec(), steady, samples=9 * 4 * 256 + 100)  # 9 columns and a little
    assert heard(wobbly).envelope_r < 0.5 and not heard(wobbly).keeps_shape
    assert heard(steady).envelope_r == pytest.approx(1.0)
