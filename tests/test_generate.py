"""Sampling: filters, determinism, long generation, continuation, region regeneration, the generate command."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from distill_tui.analysis.memorization import bigram_log_tables
from distill_tui.cli import main
from distill_tui.codes.grid import CodeGrid
from distill_tui.config import to_dict
from distill_tui.errors import BadInputError, ModelFileError
from distill_tui.inference.generate import (
    Prior,
    SamplingSettings,
    exponential_noise,
    filter_logits,
    sample_codes,
    sample_logits,
)
from distill_tui.model.prior import PriorConfig, PriorModel, flatten_codes, scoring_windows, windows_nll
from distill_tui.persistence.model_file import load_model_file, save_model_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_prior(arch: str = "transformer", sizes=(16, 8, 16), context: int = 8, seed: int = 0) -> Prior:
    torch.manual_seed(seed)
    cfg = PriorConfig(architecture=arch, levels=len(sizes), codebook_sizes=list(sizes), context=context, d_model=32,
                      layers=2, heads=2, dropout=0.1, bigram_base=True)
    model = PriorModel(cfg)
    rng = np.random.default_rng(seed)
    grids = [np.stack([rng.integers(0, k, 30) for k in sizes]) for _ in range(3)]
    model.set_bigram(*bigram_log_tables(grids, list(sizes), 0.5))
    torch.nn.init.normal_(model.head.weight, std=0.3)  # an untrained network, but one that counts
    return Prior(model, "fingerprint")


def attach_prior(model_path, out_path, arch: str = "transformer") -> None:
    """A model file with an untrained prior: enough to exercise loading, generating and decoding."""
    shutil.copyfile(model_path, out_path)
    mf = load_model_file(out_path)
    sizes = mf.doc["model"]["codebook_sizes"]
    torch.manual_seed(0)
    cfg = PriorConfig(architecture=arch, levels=len(sizes), codebook_sizes=sizes, context=8, d_model=32, layers=1, heads=2)
    doc = dict(mf.doc)
    doc["prior"] = {"architecture": arch, "val_perplexity": 5.0, "bigram_val_perplexity": 6.0, "copy_rate_8gram": 0.1,
                    "verdict": "healthy", "vqvae_fingerprint": mf.fingerprint, "config": to_dict(cfg)}
    save_model_file(out_path, doc, {**mf.tensors, "prior": PriorModel(cfg).state_dict()})


# ------------------------------------------------------------------ filters
def test_top_k_keeps_exactly_k_even_with_ties():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.5, 2.0]])
    kept = torch.isfinite(filter_logits(logits, SamplingSettings(top_k=2)))
    assert kept.sum() == 2 and kept[0, [1, 2, 3]].sum() == 2
    kept = torch.isfinite(filter_logits(logits, SamplingSettings(top_k=4)))
    assert kept.sum() == 4 and kept[0, [1, 2, 3, 5]].all()
    assert torch.isfinite(filter_logits(logits, SamplingSettings(top_k=99))).all()


@pytest.mark.parametrize(("p", "kept"), [(0.4, [0]), (0.5, [0]), (0.7, [0, 1]), (0.8, [0, 1]), (0.81, [0, 1, 2]),
                                         (0.96, [0, 1, 2, 3]), (1.0, [0, 1, 2, 3])])
def test_top_p_keeps_the_smallest_set_reaching_p(p, kept):
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    order = torch.tensor([2, 0, 3, 1])  # shuffled, so the filter must sort
    logits = probs.log()[:, order]
    out = torch.isfinite(filter_logits(logits, SamplingSettings(top_p=p)))
    assert sorted(order[out[0]].tolist()) == kept


def test_temperature_scales_logits_and_top_k_one_is_greedy():
    logits = torch.tensor([[0.0, 2.0, 1.0]])
    assert torch.allclose(filter_logits(logits, SamplingSettings(temperature=2.0)), logits / 2)
    gen = torch.Generator().manual_seed(0)
    draws = [int(sample_logits(logits, SamplingSettings(top_k=1), gen)) for _ in range(20)]
    assert draws == [1] * 20


def test_the_draw_is_torch_multinomials_draw_from_the_same_stream():
    """`sample_logits` draws what `torch.multinomial` over the softmax draws with the same generator, leaves the
    generator where multinomial leaves it, and noise drawn up front in one call is the noise drawn row by row."""
    torch.manual_seed(0)
    for seed in range(200):
        logits = torch.randn(3, 17) * 4  # (B, K)
        logits[0, :5] = -torch.inf  # codes a filter or a mask dropped
        mine, theirs = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        got = sample_logits(logits, SamplingSettings(temperature=0.7), mine)
        want = torch.multinomial((logits / 0.7).softmax(dim=-1), 1, generator=theirs)[:, 0]
        assert torch.equal(got, want), seed
        assert torch.rand(1, generator=mine).item() == torch.rand(1, generator=theirs).item()
    up_front, row_by_row = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    rows = [exponential_noise(k, row_by_row) for k in (64, 7, 64, 33)]
    assert np.array_equal(exponential_noise(168, up_front), np.concatenate(rows))
    with pytest.raises(ValueError, match="no code"):
        sample_codes(np.full((1, 4), -np.inf, dtype=np.float32), SamplingSettings())


@pytest.mark.parametrize("kw", [{"temperature": 0}, {"temperature": -1}, {"temperature": math.nan}, {"top_k": 0},
                                {"top_p": 0}, {"top_p": 1.5}, {"top_p": -0.1}])
def test_bad_settings_are_refused(kw):
    with pytest.raises(BadInputError):
        SamplingSettings(**kw).validate()


# ------------------------------------------------------------------ the Prior API
@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_generate_shapes_ranges_and_determinism(arch):
    prior = random_prior(arch)
    s = SamplingSettings(temperature=1.0, top_p=0.95, seed=5)
    a = prior.generate(30, s)  # 30 positions: past the 8-position window, so the window slides
    assert a.shape == (3, 30) and a.dtype == np.int64
    for q, k in enumerate(prior.codebook_sizes):
        assert 0 <= a[q].min() and a[q].max() < k
    assert np.array_equal(prior.generate(30, s), a)
    assert not np.array_equal(prior.generate(30, SamplingSettings(seed=6)), a)
    assert prior.generate_batch(3, 10, s).shape == (3, 3, 10)
    prior.generate(5, SamplingSettings(seed=None))
    assert isinstance(prior.last_seed, int)


@pytest.mark.parametrize("arch", ["transformer", "lstm"])
def test_sampling_loop_scores_exactly_like_the_parallel_scorer(arch):
    """Teacher-forcing a grid through the cached, sliding sampling loop gives the parallel windows' score."""
    prior = random_prior(arch)
    grid = prior.generate(29, SamplingSettings(seed=1))
    seq = torch.from_numpy(flatten_codes(grid, prior.cfg))[None].clone()
    logp = prior._run(seq, torch.zeros(seq.shape[1], dtype=torch.bool), 0, seq.shape[1], SamplingSettings(), torch.Generator())
    assert math.isclose(-float(logp[0]) / seq.shape[1], prior.score(grid), rel_tol=1e-4)


def test_continue_keeps_the_prompt():
    prior = random_prior()
    grid = prior.generate(20, SamplingSettings(seed=1))
    out = prior.continue_codes(grid, 12, 40, SamplingSettings(seed=2))
    assert out.shape == (3, 40)
    assert np.array_equal(out[:, :12], grid[:, :12])
    assert np.array_equal(prior.continue_codes(grid, 0, 20, SamplingSettings(seed=1)), grid)  # no prompt = generate
    with pytest.raises(BadInputError, match="longer than the requested length"):
        prior.continue_codes(grid, 15, 10, SamplingSettings())
    with pytest.raises(BadInputError):
        prior.continue_codes(grid[:2], 5, 10, SamplingSettings())  # a grid of another shape
    bad = grid.copy()
    bad[1, 0] = 8  # level 2 has 8 codes
    with pytest.raises(BadInputError, match="outside its codebook"):
        prior.continue_codes(bad, 5, 10, SamplingSettings())


@settings(max_examples=12, deadline=None)
@given(start=st.integers(0, 23), length=st.integers(1, 12), levels=st.sampled_from([None, [0], [1, 2], [2]]),
       candidates=st.integers(1, 3), seed=st.integers(0, 1000))
def test_region_regeneration_leaves_everything_outside_untouched(start, length, levels, candidates, seed):
    prior = random_prior()
    grid = prior.generate(24, SamplingSettings(seed=0))
    end = min(24, start + length)
    out = prior.regenerate_region(grid, start, end, SamplingSettings(seed=seed), levels=levels, candidates=candidates)
    chosen = [0, 1, 2] if levels is None else levels
    outside = np.ones_like(grid, dtype=bool)
    outside[np.ix_(chosen, np.arange(start, end))] = False
    assert out.shape == grid.shape
    assert np.array_equal(out[outside], grid[outside])


def test_region_regeneration_changes_the_region_and_is_deterministic():
    prior = random_prior()
    grid = prior.generate(24, SamplingSettings(seed=0))
    a = prior.regenerate_region(grid, 4, 16, SamplingSettings(seed=3), candidates=4)
    assert not np.array_equal(a[:, 4:16], grid[:, 4:16])
    assert np.array_equal(prior.regenerate_region(grid, 4, 16, SamplingSettings(seed=3), candidates=4), a)
    for bad in [(5, 5), (-1, 3), (20, 30)]:
        with pytest.raises(BadInputError):
            prior.regenerate_region(grid, *bad, SamplingSettings())
    with pytest.raises(BadInputError):
        prior.regenerate_region(grid, 1, 3, SamplingSettings(), levels=[3])


def test_region_candidates_are_ranked_by_how_well_the_kept_codes_fit():
    prior = random_prior()
    grid = prior.generate(24, SamplingSettings(seed=0))
    cands = prior.region_candidates(grid, 4, 10, SamplingSettings(seed=3), levels=[0, 2], candidates=5)
    costs = [c.join_nll for c in cands]
    assert len(cands) == 5 and costs == sorted(costs) and costs[0] < costs[-1]
    best = prior.regenerate_region(grid, 4, 10, SamplingSettings(seed=3), levels=[0, 2], candidates=5)
    assert np.array_equal(best, cands[0].codes)
    # the cost is the NLL of the kept codes: level 2 inside the region, then half a window (4 positions) after it
    kept = [t * 3 + 1 for t in range(4, 10)] + list(range(10 * 3, 14 * 3))
    for cand in (cands[0], cands[-1]):
        seq = torch.from_numpy(flatten_codes(cand.codes, prior.cfg))
        nll = sum(float(windows_nll(prior.model, [seq], scoring_windows(prior.cfg, len(seq), 0, i, i + 1))[0]) for i in kept)
        assert math.isclose(nll, cand.join_nll, rel_tol=1e-4)


# ------------------------------------------------------------------ files and the command line
def test_model_without_prior_says_to_train_one(tiny_model):
    with pytest.raises(BadInputError, match="train-prior"):
        Prior.from_model_file(tiny_model)


def test_prior_of_another_vqvae_is_refused(tiny_model, tmp_path):
    path = tmp_path / "p.distill"
    attach_prior(tiny_model, path)
    mf = load_model_file(path)
    doc = dict(mf.doc)
    doc["prior"] = {**doc["prior"], "vqvae_fingerprint": "0123456789abcdef"}
    save_model_file(path, doc, mf.tensors)
    with pytest.raises(ModelFileError, match="another VQ-VAE"):
        Prior.from_model_file(path)


def test_generate_command(tiny_model, tmp_path, capsys):
    path = tmp_path / "p.distill"
    attach_prior(tiny_model, path)
    out, codes = tmp_path / "g.wav", tmp_path / "g.codes.json"
    assert main(["generate", str(path), "-o", str(out), "--seconds", "1", "--seed", "4", "--top-k", "5",
                 "--codes-out", str(codes), "--json"]) == 0
    audio, sr = sf.read(out)
    grid = CodeGrid.load(codes)
    assert sr == 22050 and len(audio) > 0.9 * sr
    assert grid.model_fingerprint == load_model_file(path).fingerprint and grid.positions == 22
    assert main(["generate", str(path), "-o", str(tmp_path / "h.wav"), "--seconds", "1", "--seed", "4", "--top-k", "5",
                 "--codes-out", str(tmp_path / "h.codes.json")]) == 0
    assert np.array_equal(CodeGrid.load(tmp_path / "h.codes.json").codes, grid.codes)
    # continue and regenerate from the codes file
    cont = tmp_path / "c.codes.json"
    assert main(["generate", str(path), "-o", str(tmp_path / "c.wav"), "--prompt", str(codes), "--prompt-positions", "8",
                 "--seconds", "2", "--codes-out", str(cont)]) == 0
    c = CodeGrid.load(cont)
    assert c.positions == 44 and np.array_equal(c.codes[:, :8], grid.codes[:, :8])
    reg = tmp_path / "r.codes.json"
    assert main(["generate", str(path), "-o", str(tmp_path / "r.wav"), "--prompt", str(codes), "--region", "5:12",
                 "--region-levels", "2", "--codes-out", str(reg)]) == 0
    r = CodeGrid.load(reg).codes
    assert np.array_equal(r[0], grid.codes[0]) and np.array_equal(r[1, :5], grid.codes[1, :5])
    assert np.array_equal(r[1, 12:], grid.codes[1, 12:])
    capsys.readouterr()


@pytest.mark.parametrize(("extra", "message"), [
    (["--temperature", "0"], "temperature"),
    (["--top-p", "1.5"], "top-p"),
    (["--top-k", "0"], "top-k"),
    (["--prompt-positions", "3"], "need --prompt"),
    (["--seconds", "1e9"], "--seconds must be at most 600"),  # was torch's allocator failing on 344 GB
    (["--seconds", "inf"], "--seconds must be at most 600"),  # was "OverflowError: cannot convert float infinity"
])
def test_generate_bad_flags(tiny_model, tmp_path, capsys, extra, message):
    path = tmp_path / "p.distill"
    attach_prior(tiny_model, path)
    assert main(["generate", str(path), "-o", str(tmp_path / "x.wav"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err


def test_generate_bad_prompts_and_missing_prior(tiny_model, tmp_path, capsys):
    path = tmp_path / "p.distill"
    attach_prior(tiny_model, path)
    codes = tmp_path / "g.codes.json"
    assert main(["generate", str(path), "-o", str(tmp_path / "g.wav"), "--seconds", "0.5", "--codes-out", str(codes)]) == 0
    assert main(["generate", str(path), "-o", str(tmp_path / "x.wav"), "--prompt", str(codes),
                 "--prompt-positions", "10", "--seconds", "0.2"]) == 2
    assert "longer than the requested length" in capsys.readouterr().err
    grid = CodeGrid.load(codes)
    grid.model_fingerprint = "ffffffffffffffff"
    grid.save(tmp_path / "other.codes.json")
    assert main(["generate", str(path), "-o", str(tmp_path / "x.wav"), "--prompt", str(tmp_path / "other.codes.json")]) == 2
    assert "another model" in capsys.readouterr().err
    assert main(["generate", str(tiny_model), "-o", str(tmp_path / "x.wav")]) == 2
    assert "run `distill-tui train-prior" in capsys.readouterr().err


# ------------------------------------------------------------------ loops, one-shots, periodic masks
def test_masked_regeneration_changes_only_the_mask_and_ranks_by_the_kept_codes():
    from distill_tui.codes.masks import every_nth

    prior = random_prior()
    grid = prior.generate(30, SamplingSettings(seed=1))
    free = every_nth(3, 30, 6, 20, 3, levels=[0, 1])
    cands = prior.mask_candidates(grid, free, SamplingSettings(seed=2), candidates=4)
    costs = [c.join_nll for c in cands]
    assert costs == sorted(costs)
    for c in cands:
        assert np.array_equal(c.codes[~free], grid[~free])
    assert any(not np.array_equal(c.codes[free], grid[free]) for c in cands)
    # the cost is the NLL of the kept cells from the first free position on, then half a window (4) after the last
    seq = torch.from_numpy(flatten_codes(cands[-1].codes, prior.cfg))
    kept = [t * 3 + lv for t in range(6, 23) for lv in range(3) if t >= 19 or not free[lv, t]]  # last free: 18
    nll = sum(float(windows_nll(prior.model, [seq], scoring_windows(prior.cfg, len(seq), 0, i, i + 1))[0]) for i in kept)
    assert math.isclose(nll, cands[-1].join_nll, rel_tol=1e-4)
    with pytest.raises(BadInputError, match="mask"):
        prior.regenerate_masked(grid, np.zeros_like(free), SamplingSettings())


def test_loop_candidates_are_ranked_by_how_likely_the_start_follows_the_end():
    prior = random_prior()
    cands = prior.loop_candidates(20, SamplingSettings(seed=5), seam_positions=5, candidates=4)
    assert [c.codes.shape for c in cands] == [(3, 20)] * 4
    assert [c.join_nll for c in cands] == sorted(c.join_nll for c in cands)
    assert all(np.array_equal(c.codes[:, :15], cands[0].codes[:, :15]) for c in cands)  # only the seam differs
    wrap = prior.cfg.hop  # the first hop positions are read again after the end
    for c in (cands[0], cands[-1]):
        ext = np.concatenate([c.codes, c.codes[:, :wrap]], axis=1)
        seq = torch.from_numpy(flatten_codes(ext, prior.cfg))
        nll = float(windows_nll(prior.model, [seq], scoring_windows(prior.cfg, len(seq), 0, 20 * 3, (20 + wrap) * 3))[0])
        assert math.isclose(nll, c.join_nll, rel_tol=1e-4)
    assert np.array_equal(prior.loop(20, SamplingSettings(seed=5), seam_positions=5, candidates=4), cands[0].codes)
    with pytest.raises(BadInputError):
        prior.loop(1, SamplingSettings())


def test_one_shot_ends_in_silence_and_follows_a_silent_prompt():
    prior = random_prior()
    silence = np.array([3, 5, 7])
    out = prior.one_shot(silence, 12, SamplingSettings(seed=2), candidates=3)
    assert out.shape == (3, 12)
    assert (out[:, -2:] == silence[:, None]).all()
    # the same as regenerating the body of [silence | body | silence, silence] with the same seed
    grid = np.repeat(silence[:, None], 13, axis=1)
    free = np.zeros_like(grid, dtype=bool)
    free[:, 1:11] = True
    want = prior.regenerate_masked(grid, free, SamplingSettings(seed=2), candidates=3)[:, 1:]
    assert np.array_equal(out, want)
    with pytest.raises(BadInputError):
        prior.one_shot(np.array([3, 5, 99]), 12, SamplingSettings())


def test_bigram_sampler_follows_its_transitions():
    from distill_tui.inference.generate import bigram_generate

    k = 5
    trans = np.full((k, k), -1e9)
    trans[np.arange(k), (np.arange(k) + 1) % k] = 0.0  # always step up by one
    start = np.full(k, -1e9)
    start[2] = 0.0
    grids = bigram_generate([start, start], [trans, trans], 3, 7, np.random.default_rng(0))
    assert grids.shape == (3, 2, 7)
    assert (grids == (2 + np.arange(7)) % k).all()


def test_silence_column_decodes_quieter_than_sound():
    from pathlib import Path

    from distill_tui.inference.codec import load_codec
    from distill_tui.inference.generate import silence_column

    codec = load_codec(Path(__file__).parent.parent / "samples" / "demo.distill")  # trained: it knows silence
    col = silence_column(codec)
    quiet = codec.decode_db(np.repeat(col[:, None], 8, axis=1)).max()
    t = np.arange(22050) / 22050
    loud = codec.encode_samples((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)).codes
    assert quiet < codec.decode_db(loud).max() - 30


def test_loop_decoding_and_choice(tiny_model, tmp_path):
    from distill_tui.analysis.generation import audio_loop_seam, loop_seam
    from distill_tui.inference.codec import load_codec
    from distill_tui.inference.loops import loop_audio, loop_pad, loop_spectrum, make_loop

    path = tmp_path / "p.distill"
    attach_prior(tiny_model, path)
    codec, prior = load_codec(path), Prior.from_model_file(path)
    made = make_loop(prior, codec, 16, SamplingSettings(seed=1), candidates=5)
    found = prior.loop_candidates(16, SamplingSettings(seed=1), candidates=5)
    seams = [loop_seam(loop_spectrum(codec, c.codes)).ratio for c in found]
    assert made.prior_choice_seam.ratio == pytest.approx(seams[0])
    # the two smoothest wraps on the decoder's spectrum are heard; the one whose audio wraps more smoothly is kept
    finalists = sorted(range(5), key=lambda i: seams[i])[:2]
    heard = {i: audio_loop_seam(loop_audio(codec, found[i].codes, pad=loop_pad(codec)), codec.spec.n_fft,
                                codec.spec.hop_length).ratio for i in finalists}
    best = min(finalists, key=heard.get)
    assert np.array_equal(made.codes, found[best].codes) and made.seam.ratio == pytest.approx(seams[best])
    assert made.audio_seam.ratio == pytest.approx(heard[best]) and made.chosen_by == "seam"
    assert make_loop(prior, codec, 16, SamplingSettings(seed=1), candidates=5, finalists=1).seam.ratio == pytest.approx(min(seams))
    spec = loop_spectrum(codec, made.codes)
    tiled = codec.decode_db(np.concatenate([made.codes] * 3, axis=1)).numpy()
    frames = 16 * codec.cfg.stride
    assert spec.shape[1] == frames and np.allclose(spec[:, 0], tiled[:, 2 * frames])  # the wrap is the tiled decode's
    audio = loop_audio(codec, made.codes)
    assert len(audio) == frames * codec.spec.hop_length
    step = np.median(np.abs(np.diff(audio)))
    assert abs(float(audio[-1] - audio[0])) <= 20 * step + 1e-6  # no click at the wrap


def test_generate_command_loop_one_shot_and_masks(tiny_model, tmp_path, capsys):
    import json

    path = tmp_path / "p.distill"
    attach_prior(tiny_model, path)
    assert main(["generate", str(path), "-o", str(tmp_path / "l.wav"), "--loop", "--seconds", "1", "--seed", "2",
                 "--candidates", "3", "--codes-out", str(tmp_path / "l.codes.json"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    audio, _ = sf.read(tmp_path / "l.wav")
    assert res["mode"] == "loop" and {"ratio", "seamless"} <= set(res["seam"]) and {"ratio", "seamless"} <= set(res["audio_seam"])
    assert len(audio) == res["positions"] * 4 * 256
    assert main(["generate", str(path), "-o", str(tmp_path / "o.wav"), "--one-shot", "--seconds", "0.5", "--seed", "2",
                 "--codes-out", str(tmp_path / "o.codes.json")]) == 0
    from distill_tui.inference.codec import load_codec
    from distill_tui.inference.generate import silence_column

    shot = CodeGrid.load(tmp_path / "o.codes.json")
    assert shot.positions == 11 and (shot.codes[:, -2:] == silence_column(load_codec(path))[:, None]).all()
    src = CodeGrid.load(tmp_path / "l.codes.json")
    for flag, value, cols in (("--every", "4", [2, 6, 10, 14, 18]), ("--bpm", "240", [8, 9, 10, 11, 12, 19, 20])):
        # 240 BPM: a beat is 0.25 s, 5.4 positions of 46 ms; the off-beats of 2:21 start 0.25 s and 0.75 s in
        out = tmp_path / f"m{flag}.codes.json"
        assert main(["generate", str(path), "-o", str(tmp_path / f"m{flag}.wav"), "--prompt", str(tmp_path / "l.codes.json"),
                     "--region", "2:21", flag, value, "--seed", "1", "--codes-out", str(out)]) == 0
        changed = np.flatnonzero((CodeGrid.load(out).codes != src.codes).any(axis=0)).tolist()
        assert changed and set(changed) <= set(cols), (flag, changed)
    capsys.readouterr()


@pytest.mark.parametrize(("extra", "message"), [
    (["--every", "2"], "need --region"),
    (["--loop", "--prompt", "x.codes.json"], "does not take --prompt"),
    (["--loop", "--candidates", "0"], "--candidates"),
])
def test_generate_bad_shape_flags(tiny_model, tmp_path, capsys, extra, message):
    path = tmp_path / "p.distill"
    attach_prior(tiny_model, path)
    assert main(["generate", str(path), "-o", str(tmp_path / "x.wav"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err
