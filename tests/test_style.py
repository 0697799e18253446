"""In the style of chosen sounds: the lean (a bigram of the chosen sounds), the prompt, and `generate --like`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from distill_tui.cli import main
from distill_tui.codes.grid import CodeGrid
from distill_tui.errors import BadInputError
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.inference.style import MAX_STRENGTH, generate_like, style_bias

from .conftest import SR
from .test_generate import random_prior

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import corpus  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZES = (16, 8, 16)


def cycle_grid(positions: int = 40, step: int = 3) -> np.ndarray:
    """(3, positions): each level walks its codebook by `step`, so every code has one follower."""
    t = np.arange(positions)
    return np.stack([(t * step) % k for k in SIZES]).astype(np.int64)


def follows_share(grids: list[np.ndarray], step: int = 3) -> float:
    """Share of same-level steps in `grids` that are the cycle's (code -> code + step)."""
    hits = total = 0
    for g in grids:
        for q, k in enumerate(SIZES):
            hits += int(((g[q, :-1] + step) % k == g[q, 1:]).sum())
            total += g.shape[1] - 1
    return hits / total


# ------------------------------------------------------------------ the lean
def test_bias_rows_are_the_chosen_sounds_habits_and_scale_with_strength():
    grid = cycle_grid()
    one = style_bias([grid], list(SIZES), 1.0)
    for q, k in enumerate(SIZES):
        probs = one.log_trans[q].exp()  # (K, K)
        assert torch.allclose(probs.sum(1), torch.ones(k), atol=1e-5)  # each row a distribution
        assert (probs > 0).all()  # smoothed: every code keeps some chance
        prev = torch.arange(k)
        assert (probs.argmax(1) == (prev + 3) % k).all()  # the follower the sound uses wins
    two = style_bias([grid], list(SIZES), 2.0)
    assert torch.allclose(two.log_trans[1], 2 * one.log_trans[1])
    assert one(0, None).shape == (1, SIZES[0]) and one(2, torch.tensor([0, 5])).shape == (2, SIZES[2])
    with pytest.raises(BadInputError, match="--strength"):
        style_bias([grid], list(SIZES), MAX_STRENGTH + 0.5)
    with pytest.raises(BadInputError, match="--strength"):
        style_bias([grid], list(SIZES), -1)


def test_the_lean_makes_new_sounds_follow_the_chosen_sounds_steps():
    prior = random_prior(sizes=SIZES)
    grid = cycle_grid()
    plain = prior.generate_batch(6, 30, SamplingSettings(seed=1))
    leaned = [s.codes for s in generate_like(prior, [grid], 6, 30, SamplingSettings(seed=1), strength=3.0).sounds]
    assert follows_share(leaned) > 0.6 > 0.2 > follows_share(list(plain))
    alone = generate_like(prior, [grid], 6, 30, SamplingSettings(seed=1), strength=3.0, prompt=False).sounds
    assert all(s.prompt == (0, 0) for s in alone) and follows_share([s.codes for s in alone]) > 0.6


def test_prompt_is_left_out_and_each_sound_is_prompted_from_the_chosen_ones_in_turn():
    prior = random_prior(sizes=SIZES)
    a, b = cycle_grid(40, 3), cycle_grid(6, 5)
    made = generate_like(prior, [a, b], 3, 20, SamplingSettings(seed=7), strength=0.0)
    assert [s.like for s in made.sounds] == [0, 1, 0]
    assert all(s.codes.shape == (3, 20) for s in made.sounds)
    ctx = prior.cfg.context
    for s in made.sounds:
        lo, hi = s.prompt
        assert hi - lo == min(ctx, [a, b][s.like].shape[1]) and 0 <= lo
    assert made.sounds[1].prompt == (0, 6)  # a sound shorter than the window prompts whole
    again = generate_like(prior, [a, b], 3, 20, SamplingSettings(seed=7), strength=0.0)
    assert all(np.array_equal(x.codes, y.codes) for x, y in zip(made.sounds, again.sounds, strict=True))
    # the prompt matters: the same seed after another sound gives another grid
    other = generate_like(prior, [b, a], 1, 20, SamplingSettings(seed=7), strength=0.0)
    assert not np.array_equal(other.sounds[0].codes, made.sounds[0].codes)


def test_one_shot_in_a_style_is_leaned_not_prompted_and_ends_in_silence():
    prior = random_prior(sizes=SIZES)
    silence = np.array([1, 2, 3])
    made = generate_like(prior, [cycle_grid(10)], 2, 12, SamplingSettings(seed=2), mode="one-shot", silence=silence,
                         candidates=2)
    for s in made.sounds:
        assert s.codes.shape == (3, 12) and s.prompt == (0, 0)
        assert (s.codes[:, -2:] == silence[:, None]).all()


def test_bad_chosen_sounds_are_refused():
    prior = random_prior(sizes=SIZES)
    with pytest.raises(BadInputError, match="too short to prompt"):
        generate_like(prior, [cycle_grid(1)], 1, 10, SamplingSettings(seed=0), names=["tick.wav"])
    with pytest.raises(BadInputError, match="at least one sound"):
        generate_like(prior, [], 1, 10, SamplingSettings(seed=0))
    with pytest.raises(BadInputError, match="-n must be at least 1"):
        generate_like(prior, [cycle_grid()], 0, 10, SamplingSettings(seed=0))
    with pytest.raises(BadInputError, match="outside its codebook"):
        generate_like(prior, [cycle_grid() + 20], 1, 10, SamplingSettings(seed=0))


# ------------------------------------------------------------------ the command
def gen(capsys, *args) -> tuple[int, str, str]:
    code = main(["generate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_like_writes_n_sounds_with_where_they_came_from(prior_model, pad, tmp_path, capsys):
    out = tmp_path / "new.wav"
    code, stdout, err = gen(capsys, prior_model, "-o", out, "--like", pad, "-n", 2, "--seconds", 0.5, "--seed", 3,
                            "--strength", 1, "--codes-out", tmp_path / "new.codes.json", "--json")
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    assert [s["output"] for s in result["sounds"]] == [str(tmp_path / "new-1.wav"), str(tmp_path / "new-2.wav")]
    grids = [CodeGrid.load(tmp_path / f"new-{k}.codes.json") for k in (1, 2)]
    for k, g in enumerate(grids, 1):
        audio, rate = sf.read(tmp_path / f"new-{k}.wav")
        assert rate == g.sample_rate and len(audio) > 0.4 * SR
        how = g.source["generated"]
        assert how["like"] == "pad.wav" and how["strength"] == 1.0 and len(how["like_positions"]) == 2
    assert not np.array_equal(grids[0].codes, grids[1].codes)
    assert not out.exists()  # several sounds are numbered
    # a codes file of this model is a SOUND too, and loops and one-shots take a style
    code, _, err = gen(capsys, prior_model, "-o", tmp_path / "loop.wav", "--like", tmp_path / "new-1.codes.json",
                       "--like", pad, "--loop", "--seconds", 0.5, "--candidates", 2, "--seed", 1)
    assert code == 0, err
    assert (tmp_path / "loop.wav").exists()
    code, stdout, err = gen(capsys, prior_model, "-o", tmp_path / "hit.wav", "--like", pad, "--one-shot",
                            "--candidates", 2, "--strength", 0, "--seed", 1, "--json")
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["mode"] == "one-shot" and abs(result["seconds"] - 1.2) < 0.1  # as long as the chosen sound


def test_generate_like_a_folder_takes_after_every_sound_in_it(prior_model, pad, tmp_path, capsys):
    """`--like pads/` said "--like pads: no such file" of a folder that was there. A folder now stands for every
    audio file in it and below it; one without any, or a path that is not there, is one line naming it."""
    pads = tmp_path / "pads"
    (pads / "more").mkdir(parents=True)
    shutil.copy(pad, pads / "a.wav")
    shutil.copy(pad, pads / "more" / "b.wav")
    (pads / "notes.txt").write_text("not a sound")
    code, stdout, err = gen(capsys, prior_model, "-o", tmp_path / "new.wav", "--like", pads, "-n", 2, "--seconds", 0.5,
                            "--seed", 3, "--json")
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    assert [s["like"] for s in result["sounds"]] == ["a.wav", "b.wav"]  # sound k is prompted by chosen sound k
    (tmp_path / "empty").mkdir()
    for path, why in ((tmp_path / "empty", "no audio files in this folder or below it"),
                      (tmp_path / "gone", "no such file or folder")):
        code, _, err = gen(capsys, prior_model, "-o", tmp_path / "x.wav", "--like", path)
        assert code == 2 and err == f"error: --like {path}: {why}\n", err


def test_generate_like_bad_input_is_one_line_naming_the_argument(prior_model, tiny_model, pad, tmp_path, capsys):
    out = tmp_path / "x.wav"
    other = tmp_path / "other.codes.json"
    other.write_text(json.dumps(CodeGrid(codes=np.zeros((2, 4), dtype=np.int64), model_fingerprint="0123456789abcdef",
                                         codebook_sizes=[16, 16], sample_rate=SR, hop_length=256, stride=4).to_json()))
    code, _, _ = gen(capsys, prior_model, "-o", tmp_path / "one.wav", "--like", pad, "--seconds", 0.3,
                     "--codes-out", tmp_path / "one.codes.json", "--seed", 1)
    assert code == 0
    short = tmp_path / "short.codes.json"
    grid = CodeGrid.load(tmp_path / "one.codes.json")
    grid.codes = grid.codes[:, :1]
    grid.save(short)
    cases = [
        (["--like", tmp_path / "missing.wav"], "--like", "no such file"),
        (["--like", other], "--like", "another model"),
        (["--like", short], "--like", "too short to prompt"),
        (["--like", pad, "--strength", 5], "--strength", "between 0 and 4"),
        (["--like", pad, "--strength", -0.1], "--strength", "between 0 and 4"),
        (["--like", pad, "-n", 0], "-n", "from 1 to 100"),
        (["--like", pad, "-n", 100000], "-n", "from 1 to 100"),  # drawn until killed
        (["-n", 2], "-n", "needs --like"),
        (["--strength", 1], "--strength", "needs --like"),
        (["--like", pad, "--prompt", short], "--like", "--prompt"),
    ]
    for extra, arg, message in cases:
        code, _, err = gen(capsys, prior_model, "-o", out, *extra)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, (extra, err)
        assert arg in err and message in err, (extra, err)
    code, _, err = gen(capsys, tiny_model, "-o", out, "--like", pad)
    assert code == 2 and "has no prior" in err and err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "x-1.wav").exists()


@pytest.mark.skipif(not corpus.available(), reason="needs real audio: apt-get install -y lmms-common")
def test_generate_like_a_real_drum_loop_and_a_real_hit(prior_model, tmp_path, capsys):
    """Real recordings (a drum loop, a 0.06-s kick) as chosen sounds: both prompt, and the kick gives a one-shot."""
    data = corpus.link("pads-drums-5", tmp_path / "data")
    loop = next(data.rglob("*beat*.ogg"), None) or next(data.rglob("*loop*.ogg"))
    kick = next(data.rglob("bassdrum_acoustic01.ogg"))
    code, stdout, err = gen(capsys, prior_model, "-o", tmp_path / "r.wav", "--like", loop, "--like", kick, "-n", 2,
                            "--seconds", 0.5, "--seed", 0, "--json")
    assert code == 0, err
    result = json.loads(stdout.strip().splitlines()[-1])
    assert [s["like"] for s in result["sounds"]] == [loop.name, kick.name]
    code, stdout, err = gen(capsys, prior_model, "-o", tmp_path / "k.wav", "--like", kick, "--one-shot",
                            "--candidates", 2, "--seed", 0, "--json")
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["seconds"] < 0.5
