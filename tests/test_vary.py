"""Variations: kept levels and regions, distinct results, replay by seed, and the `vary` command's bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from distill_tui.cli import main
from distill_tui.codes.grid import CodeGrid
from distill_tui.errors import BadInputError
from distill_tui.inference.generate import RegionCandidate, SamplingSettings
from distill_tui.inference.variations import parse_levels, vary
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
        (["-n", 0], "-n must be at least 1"),
        (["-n", -3], "-n must be at least 1"),
        (["--keep-levels", 3], "--keep-levels 3 is outside this model's levels (1 to 2)"),
        (["--keep-levels", "1,2"], "--keep-levels 1,2 keeps every level"),
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
