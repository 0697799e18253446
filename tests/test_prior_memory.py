"""The sound's memory (model/memory.py): each code leans toward the codes this sound has already used."""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from distill_tui.analysis.memorization import bigram_log_tables
from distill_tui.config import from_dict, to_dict
from distill_tui.errors import BadInputError
from distill_tui.inference.generate import Prior, SamplingSettings
from distill_tui.model.memory import MemorySetting, SoundMemory, adjust_logp, true_counts
from distill_tui.model.prior import PriorConfig, PriorModel, flatten_codes
from distill_tui.persistence.document import PriorSummary
from distill_tui.persistence.model_file import load_model_file
from distill_tui.train.prior_data import FileCodes
from distill_tui.train.prior_folds import decide, run_fold
from distill_tui.train.prior_loop import PriorTrainConfig
from tests.test_prior_cross_level import train_with_forced_blend

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZES = [8, 16]


def cfg(**kw) -> PriorConfig:
    return PriorConfig(levels=2, codebook_sizes=list(SIZES), context=8, d_model=32, layers=1, heads=4, dropout=0.0,
                       **kw)


def brute(grid: np.ndarray, level: int, s: MemorySetting, t: int, silence: int = -1) -> np.ndarray:
    """The memory's counts (K,) before position t, straight from the definition (silent columns left out)."""
    counts = np.zeros(SIZES[level])
    for u in range(t):
        if grid[0, u] == silence:
            continue
        prev_u, prev_t = (grid[level, u - 1] if u else -1), (grid[level, t - 1] if t else -1)
        if s.mode == "uni" or (s.mode == "cross" and grid[level - 1, u] == grid[level - 1, t]) or (
                s.mode == "bi" and prev_u == prev_t):
            counts[grid[level, u]] += s.decay ** (t - 1 - u)
    return counts


def test_the_counts_follow_the_definition_and_the_sampler_keeps_the_same_counts():
    rng = np.random.default_rng(0)
    grid = np.stack([rng.integers(0, 3, 25), rng.integers(0, 4, 25)])  # from few codes: contexts match
    for (level, s), silence in itertools.product(((0, MemorySetting("uni", 0.9, 2.0)), (1, MemorySetting("cross", 0.97, 8.0)),
                                                  (1, MemorySetting("uni", 1.0, 1.0)), (0, MemorySetting("bi", 0.9, 4.0)),
                                                  (1, MemorySetting("bi", 1.0, 2.0))), (-1, 1)):
        hit, total = true_counts(grid, level, s, silence)
        mem = SoundMemory(cfg(memory_modes=["uni", s.mode] if level else [s.mode, "none"], memory_silence=silence,
                              memory_decays=[s.decay] * 2, memory_kappas=[s.kappa] * 2), 1)
        for t in range(grid.shape[1]):
            want = brute(grid, level, s, t, silence)
            assert hit[t] == pytest.approx(want[grid[level, t]]) and total[t] == pytest.approx(want.sum())
            above = torch.tensor([grid[level - 1, t]]) if level else None
            previous = torch.tensor([grid[level, t - 1]]) if t else None
            logp = torch.log_softmax(torch.randn(1, SIZES[level]), dim=-1)
            leaned = mem.lean(level, logp, above, previous)[0]  # (K,) float64
            assert np.exp(leaned).sum() == pytest.approx(1.0, abs=1e-6)
            c = grid[level, t]
            assert float(leaned[c]) == pytest.approx(float(adjust_logp(np.float64(logp[0, c]), want[c], want.sum(),
                                                                       s.kappa)), abs=1e-5)
            mem.add(level, torch.tensor([c]), above, previous, torch.tensor([grid[0, t]]))


def prior_with_memory(grids: list[np.ndarray], modes=("uni", "cross"), decays=(0.9, 0.97), kappas=(2.0, 8.0)) -> Prior:
    torch.manual_seed(0)
    model = PriorModel(cfg(blend="linear", blend_weights=[0.5, 0.5], memory_modes=list(modes),
                           memory_decays=list(decays), memory_kappas=list(kappas))).eval()
    model.set_bigram(*bigram_log_tables(grids, SIZES, 0.5))
    return Prior(model, "fingerprint")


def test_a_prior_with_memory_samples_as_it_scores_and_scores_a_repeating_sound_better():
    rng = np.random.default_rng(1)
    grids = [np.stack([rng.integers(0, k, 40) for k in SIZES]) for _ in range(3)]
    with_mem, without = prior_with_memory(grids), prior_with_memory(grids, ("none", "none"), (1.0, 1.0), (1.0, 1.0))
    grid = with_mem.generate(29, SamplingSettings(seed=1))  # 29 positions: the window slides, the memory does not
    seq = torch.from_numpy(flatten_codes(grid, with_mem.cfg))[None].clone()
    logp = with_mem._run(seq, torch.zeros(seq.shape[1], dtype=torch.bool), 0, seq.shape[1], SamplingSettings(),
                         torch.Generator())
    assert math.isclose(-float(logp[0]) / seq.shape[1], with_mem.score(grid), rel_tol=1e-4)
    loop = np.stack([np.resize([1, 4, 6], 40), np.resize([3, 9, 12, 3], 40)])  # a sound that repeats itself
    assert with_mem.score(loop) < without.score(loop) - 0.3
    noise = np.stack([rng.integers(0, k, 40) for k in SIZES])
    assert with_mem.score(noise) > without.score(noise)  # the memory costs where a sound never repeats
    assert without.score(loop) == pytest.approx(prior_with_memory(grids, (), (), ()).score(loop))  # "none" = absent
    kept = with_mem.continue_codes(grid, 10, 29, SamplingSettings(seed=2))  # the prompt's codes fill the memory
    assert kept[:, :10].tolist() == grid[:, :10].tolist()


def test_memory_settings_are_checked_and_older_configs_have_none():
    old = {k: v for k, v in to_dict(cfg(blend="linear", blend_weights=[0.5, 0.5])).items() if not k.startswith("memory")}
    assert from_dict(PriorConfig, old).memory_modes == []
    for bad in ({"memory_modes": ["uni"], "memory_decays": [0.9], "memory_kappas": [1.0]},
                {"memory_modes": ["cross", "uni"], "memory_decays": [0.9, 0.9], "memory_kappas": [1.0, 1.0]},
                {"memory_modes": ["uni", "bigram"], "memory_decays": [0.9, 0.9], "memory_kappas": [1.0, 1.0]},
                {"memory_modes": ["uni", "uni"], "memory_decays": [0.0, 0.9], "memory_kappas": [1.0, 1.0]},
                {"memory_modes": ["uni", "uni"], "memory_decays": [0.9, 0.9], "memory_kappas": [1.0, -1.0]},
                {"memory_silence": SIZES[0]}):
        with pytest.raises(BadInputError, match="memory"):
            from_dict(PriorConfig, {**old, **bad})


def repeating_sounds(n: int, seed: int) -> list[np.ndarray]:
    """Each sound cycles through its own few codes, different from every other sound's: only the sound itself
    tells which codes come next."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = rng.choice(SIZES[0], 3, replace=False)
        b = rng.choice(SIZES[1], 4, replace=False)
        length = int(rng.integers(30, 45))
        out.append(np.stack([a[rng.integers(0, 3, length)], b[rng.integers(0, 4, length)]]))
    return out


@pytest.mark.parametrize("kind", ["repeating", "noise"])
def test_the_folds_keep_the_memory_only_where_a_sound_repeats_itself(kind):
    rng = np.random.default_rng(2)
    g = repeating_sounds(6, 3) if kind == "repeating" else [np.stack([rng.integers(0, k, 40) for k in SIZES])
                                                            for _ in range(6)]
    codes = FileCodes([f"f{i}" for i in range(6)], g, [], [])
    tc = PriorTrainConfig(steps=4, eval_every=2, batch_size=4, augment=False)
    folds = [run_fold(cfg(), tc, codes, [i, i + 3], 4) for i in range(3)]
    assert all(f.slots is not None and len(f.slots.net) == len(f.steps) for f in folds)
    d = decide(folds, 6, 4)
    if kind == "repeating":
        assert d.memory_modes and d.memory_modes[0] == "bi" and d.keep_blend
        assert d.blend_mean < d.blend_without_memory["mean"] - 0.2  # nested figures, both
        assert "own earlier codes" in "\n".join(PriorSummary(folds=d.as_dict()).folds_lines())
        off = decide(folds, 6, 4, memory=False)
        assert off.memory_modes == [] and off.blend_mean == pytest.approx(d.blend_without_memory["mean"], abs=1e-4)
    else:  # nothing to remember: left out, or kept at its weakest for a gain within the noise
        assert d.memory_modes == [] or (min(d.memory_kappas) == 32.0
                                        and d.blend_without_memory["mean"] - d.blend_mean < 0.01)


@pytest.fixture
def memory_prior(tiny_model, dataset, tmp_path, monkeypatch) -> Path:
    """The tiny model with a short prior whose fold decision is forced to keep a memory ("uni", "cross", none)."""
    path = tmp_path / "m.distill"
    shutil.copyfile(tiny_model, path)
    train_with_forced_blend(path, dataset, tmp_path / "run", monkeypatch, cross_shares=[0.0, 0.2, 0.3],
                            memory=(["uni", "cross", "none"], [0.9, 0.97, 1.0], [4.0, 8.0, 1.0]))
    return path


def test_train_prior_stores_the_memory_and_the_sampler_reads_it(memory_prior):
    path = memory_prior
    mf = load_model_file(path)
    q = len(mf.document.codebook_sizes)
    assert mf.doc["prior"]["config"]["memory_modes"] == ["uni", "cross", "none"][:q]
    prior = Prior.from_model_file(path)
    s = SamplingSettings(seed=0)
    grid = prior.generate(24, s)
    assert np.array_equal(grid, prior.generate(24, s)) and np.isfinite(prior.score(grid))
    plain = Prior.from_model_file(path)
    plain.model.cfg.memory_modes = []  # the same network and tables without the memory
    assert not np.array_equal(plain.generate(24, s), grid)


def test_train_prior_no_memory_reaches_the_fold_decision():
    from distill_tui.cli import build_parser
    from distill_tui.commands.train_prior import build_request

    args = build_parser().parse_args(["train-prior", "samples/demo.distill", "--no-memory", "--force"])
    assert build_request(args).train.memory is False
    assert build_request(build_parser().parse_args(["train-prior", "samples/demo.distill", "--force"])).train.memory is True


def test_a_model_file_with_a_damaged_memory_setting_is_refused_in_one_line(memory_prior, tmp_path, capsys):
    import json

    from distill_tui.cli import main
    from distill_tui.persistence.model_file import save_model_file

    path = memory_prior
    mf = load_model_file(path)
    q = len(mf.document.codebook_sizes)
    for modes, why in ((["uni", "tri", "none"][:q], "memory mode 'tri'"), (["uni"] * (q + 1), "one mode, decay and kappa")):
        doc = json.loads(json.dumps(mf.doc))
        doc["prior"]["config"]["memory_modes"] = modes
        bad = tmp_path / "bad.distill"
        save_model_file(bad, doc, mf.tensors)
        assert main(["generate", str(bad), "-o", str(tmp_path / "x.wav")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {bad}") and why in err and "\n" not in err
    assert main(["generate", str(path), "-o", str(tmp_path / "x.wav"), "--seconds", "1"]) == 0


@pytest.mark.skipif(not (Path(__file__).parent.parent / "samples" / "demo.distill").exists(),
                    reason="the bundled demo is not in this checkout")
def test_one_shots_of_the_demo_are_not_silent():
    """A one-shot is prompted with the model's silent column. Silent columns stay out of the sound's memory: the
    memory made half the demo's one-shots silent from start to end before they did (its previous prior: 4 %)."""
    from distill_tui.inference.codec import load_codec
    from distill_tui.inference.generate import silence_column

    demo = Path(__file__).parent.parent / "samples" / "demo.distill"
    prior, silence = Prior.from_model_file(demo), silence_column(load_codec(demo))
    assert prior.cfg.memory_modes and prior.cfg.memory_silence == int(silence[0])
    bodies = [prior.one_shot(silence, 22, SamplingSettings(seed=s))[0, :-2] for s in range(12)]
    assert np.mean([np.mean(b == silence[0]) for b in bodies]) < 0.2
    assert sum(bool(np.all(b == silence[0])) for b in bodies) == 0


def test_the_folds_never_offer_a_memory_that_could_decide_almost_all_of_a_prediction():
    from distill_tui.model.memory import MAX_MEMORY_SHARE, largest_share, memory_candidates

    assert largest_share(0.97, 2.0) == pytest.approx(0.9434, abs=1e-4)  # 33.3 of 35.3: the setting that made drones
    assert largest_share(0.9, 4.0) == pytest.approx(10 / 14)
    for level in range(3):
        options = memory_candidates(level)
        assert options and all(largest_share(o.decay, o.kappa) <= MAX_MEMORY_SHARE for o in options)
        assert {o.mode for o in options} == ({"bi", "cross"} if level else {"bi"})  # "uni" locks sounds in
