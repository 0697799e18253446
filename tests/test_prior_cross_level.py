"""The cross-level table (each code given the previous slot's) as a third part of the prior's linear blend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from distill_tui.analysis.memorization import bigram_log_tables
from distill_tui.config import from_dict, to_dict
from distill_tui.errors import BadInputError
from distill_tui.inference.generate import Prior, SamplingSettings
from distill_tui.model.cross_level import cross_table, slot_pair_counts
from distill_tui.model.prior import PriorConfig, PriorModel, flatten_codes, slot_inputs
from distill_tui.persistence.document import PriorSummary
from distill_tui.persistence.model_file import load_model_file
from distill_tui.train import prior_loop
from distill_tui.train.prior_data import FileCodes
from distill_tui.train.prior_folds import BLEND_CANDIDATES, FoldResult, decide, run_fold
from distill_tui.train.prior_loop import PriorRequest, PriorTrainConfig, train_prior

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZES = [8, 16]
DEMO = Path(__file__).parent.parent / "samples" / "demo.distill"


def cfg(**kw) -> PriorConfig:
    return PriorConfig(levels=2, codebook_sizes=list(SIZES), context=8, d_model=32, layers=1, heads=4, dropout=0.0,
                       **kw)


def grids(n: int, seed: int = 0, length: int = 30) -> list[np.ndarray]:
    """Level 2 follows level 1 of the same column (code 2 * c, with a little noise): a cross-level habit."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        coarse = rng.integers(0, SIZES[0], length + 3 * i)
        fine = np.where(rng.random(coarse.size) < 0.8, 2 * coarse, rng.integers(0, SIZES[1], coarse.size))
        out.append(np.stack([coarse, fine]))
    return out


def test_the_table_counts_each_code_after_the_previous_slot_and_is_normalized_per_level():
    c = cfg()
    g = np.array([[1, 1, 3], [2, 2, 6]])  # columns (1, 2), (1, 2), (3, 6)
    counts = slot_pair_counts([g], c)
    fine = SIZES[0]  # global ids of level 2 start here
    assert counts[1, fine + 2] == 2 and counts[3, fine + 6] == 1  # level 2 given level 1 of its column
    assert counts[fine + 2, 1] == 1 and counts[fine + 2, 3] == 1  # level 1 given level 2 of the column before
    assert counts[c.vocab, 1] == 1 and counts[c.vocab + 1, 1] == 2 and counts[c.vocab + 1, 3] == 1  # the start rows
    table = cross_table(c, [g], 0.5)  # (V + 2, V)
    assert table.shape == (c.vocab + 2, c.vocab)
    for row in range(c.vocab + 2):
        lv = 1 if row < SIZES[0] else 0  # after a level-1 code comes level 2; after level 2 or a start, level 1
        lo, k = c.offsets[lv], SIZES[lv]
        assert torch.isclose(table[row, lo : lo + k].exp().sum(), torch.tensor(1.0), atol=1e-5)
        assert (table[row, :lo] == 0).all() and (table[row, lo + k :] == 0).all()
    assert np.isclose(table[1, fine + 2].exp().item(), (2 + 0.5) / (2 + 0.5 * SIZES[1]))


def test_a_blend_with_the_table_mixes_three_parts_with_its_shares_per_level():
    g = grids(3)
    torch.manual_seed(0)
    plain = PriorModel(cfg()).eval()
    mixed = PriorModel(cfg(blend="linear", blend_weights=[0.5, 0.25], cross_weights=[0.1, 0.5])).eval()
    missing, unexpected = mixed.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["bigram", "cross"] and not unexpected
    starts, trans = bigram_log_tables(g, SIZES, 0.5)
    mixed.set_bigram(starts, trans)
    table = cross_table(mixed.cfg, g, 0.3)
    mixed.set_cross(table)
    seq = torch.from_numpy(flatten_codes(g[0], plain.cfg))[None]  # (1, N)
    x = slot_inputs(plain.cfg, seq, 0, 0, 16)
    p_net, p_mix = plain(x).softmax(-1)[0], mixed(x).softmax(-1)[0]  # (T, V)
    lo = SIZES[0]
    # slot 3: level 2 at time 1; its previous slot holds level 1 at time 1, its previous same-level code slot 1's
    coarse, prev = int(seq[0, 2]), int(seq[0, 1]) - lo
    big = torch.from_numpy(np.exp(trans[1][prev])).float()
    cross = table[coarse, lo:].exp()
    assert torch.allclose(p_mix[3, lo:], 0.25 * p_net[3, lo:] + 0.5 * cross + 0.25 * big, atol=1e-5)
    assert torch.allclose(p_mix[3, lo:].sum(), torch.tensor(1.0), atol=1e-5)


def test_cross_shares_are_checked_and_older_configs_have_none():
    old = {k: v for k, v in to_dict(cfg(blend="linear", blend_weights=[0.5, 0.5])).items() if k != "cross_weights"}
    loaded = from_dict(PriorConfig, old)
    assert loaded.cross_weights == [] and "cross" not in PriorModel(loaded).state_dict()
    for bad in ({"cross_weights": [0.5]}, {"cross_weights": [0.5, 0.6]}, {"cross_weights": [-0.1, 0.2]},
                {"blend": "product", "cross_weights": [0.1, 0.1]}, {"blend": "none", "blend_weights": [],
                                                                    "cross_weights": [0.1, 0.1]}):
        with pytest.raises(BadInputError):
            from_dict(PriorConfig, {**old, **bad})


BEFORE_TABLE = Path(__file__).parent / "data" / "demo_prior_before_table.safetensors"


def demo_with_prior_from_before_the_table(tmp_path: Path, kept: Path = BEFORE_TABLE) -> Path:
    """The bundled demo with the prior it carried before the cross-level table existed (network and bigram; its
    tensors and document section kept in tests/data), written the way that version wrote it; or with another prior
    kept there (`kept`): the demo's VQ-VAE has not changed since."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from distill_tui.persistence.model_file import save_model_file

    mf = load_model_file(DEMO)
    with safe_open(str(kept), "pt") as f:
        prior_doc = json.loads(f.metadata()["prior"])
    doc = {**mf.doc, "prior": prior_doc}
    path = tmp_path / f"{kept.stem}.distill"
    save_model_file(path, doc, {**mf.tensors, "prior": load_file(str(kept))})
    return path


@pytest.mark.skipif(not DEMO.exists(), reason="the bundled demo is not in this checkout")
def test_a_prior_stored_before_the_table_samples_and_scores_as_before(tmp_path):
    """A prior with no cross-level part (the demo's before the table) against figures taken before the table existed."""
    prior = Prior.from_model_file(demo_with_prior_from_before_the_table(tmp_path))
    assert prior.cfg.blend == "linear" and prior.cfg.cross_weights == [] and not prior.model.use_cross
    grid = prior.generate(24, SamplingSettings(seed=3))
    assert grid.tolist() == [
        [34, 29, 29, 39, 29, 29, 29, 29, 46, 46, 46, 46, 46, 46, 46, 46, 46, 29, 4, 4, 4, 29, 29, 29],
        [15, 54, 5, 46, 58, 61, 5, 36, 24, 46, 21, 60, 59, 27, 61, 20, 31, 0, 48, 45, 13, 1, 44, 48]]
    assert prior.score(grid) == pytest.approx(2.448729, abs=1e-6)


@pytest.mark.skipif(not DEMO.exists(), reason="the bundled demo is not in this checkout")
def test_the_bundled_demo_prior_blends_the_table_in():
    prior = Prior.from_model_file(DEMO)
    assert prior.cfg.blend == "linear" and prior.model.use_cross and any(w > 0 for w in prior.cfg.cross_weights)


def test_fold_scores_of_the_table_alone_are_its_held_out_counts():
    c = cfg()
    g = grids(4, 5)
    codes = FileCodes([f"f{i}" for i in range(4)], g, [], [])
    r = run_fold(c, PriorTrainConfig(steps=2, eval_every=2, batch_size=4, augment=False), codes, [1, 3], 2)
    blended = np.array(r.blended)  # (E, C, Q)
    train, val = [g[0], g[2]], [g[1], g[3]]
    for i, cand in enumerate(BLEND_CANDIDATES):
        if cand.kind == "linear" and cand.weight == 0.0 and cand.cross == 1.0:  # the table alone
            a = cand.cross_alpha
            n = np.zeros((SIZES[0], SIZES[1]))
            for t in train:
                np.add.at(n, (t[0], t[1]), 1)
            logp = np.log((n + a) / (n.sum(axis=1, keepdims=True) + a * SIZES[1]))  # level 2 given level 1
            want = -sum(logp[v[0], v[1]].sum() for v in val)
            assert np.allclose(blended[:, i, 1], want, rtol=1e-5)


def fold(net: list[list[float]], big: float, wins: list[int], score: list[float]) -> FoldResult:
    """A fold whose every blend scores `net` except candidates `wins`, which score `score` at the last step."""
    blended = [[list(n) for _ in BLEND_CANDIDATES] for n in net]
    for i in wins:
        blended[-1][i] = list(score)
    return FoldResult(held_out=["x"], tokens=[50.0, 50.0], steps=[10 * i for i in range(len(net))], network=net,
                      bigram=[[big / 2, big / 2]] * 25, blended=blended)


def test_the_folds_give_the_table_a_share_only_when_it_wins_and_report_the_pair_beside():
    net = [[200, 200], [160, 160]]  # per code 3.2, bigram 3.3
    pair = next(k for k, c in enumerate(BLEND_CANDIDATES) if c.kind == "linear" and c.weight == 0.5 and c.cross == 0)
    three = next(k for k, c in enumerate(BLEND_CANDIDATES) if c.kind == "linear" and c.weight == 0.5 and c.cross == 0.3)
    folds = [fold(net, 330, [pair], [150, 150]) for _ in range(3)]
    for f in folds:
        f.blended[-1][three] = [130, 140]
    d = decide(folds, 6, 10)
    assert d.keep_blend and d.cross_weights == [0.3, 0.3] and d.cross_alpha == BLEND_CANDIDATES[three].cross_alpha
    assert d.blend_weights == [0.5, 0.5] and d.blend_nll == pytest.approx([2.6, 2.8])
    assert d.blend_without_cross["mean"] == pytest.approx(3.0) and d.blend_without_cross["weights"] == [0.5, 0.5]
    assert d.as_dict()["cross_weights"] == [0.3, 0.3]
    assert "cross-level table [0.3, 0.3]" in "\n".join(PriorSummary(folds=d.as_dict()).folds_lines())
    off = decide(folds, 6, 10, cross=False)  # `cross_level=False`: the blend of network and bigram alone
    assert off.cross_weights == [] and off.blend_mean == pytest.approx(3.0) and off.blend_without_cross == {}


def train_with_forced_blend(path, dataset, run_dir, monkeypatch, cross_shares: list[float],
                            ngram_shares: list[float] | None = None,
                            memory: tuple[list[str], list[float], list[float]] | None = None) -> None:
    """A short `train_prior` on `path` whose fold decision (the real one) is forced to store a linear blend with
    the cross-level table at `cross_shares` (and the n-gram at `ngram_shares`, order 3, else none; and the sound's
    memory as `memory`'s modes, decays and kappas), cut to the model's levels."""
    def forced(folds, n_files, fold_steps, cross=True, **_):
        d = decide(folds, n_files, fold_steps, cross, memory=False)
        q = len(folds[0].tokens)
        d.blend, d.blend_alpha, d.blend_weights, d.blend_step = "linear", 0.1, [0.4, 0.3, 0.2][:q], 10
        d.cross_weights, d.cross_alpha = cross_shares[:q], 0.3
        # no n-gram unless asked: what the real decision chose for it, beside the forced shares, could sum past 1
        d.ngram_weights, d.ngram_order = (ngram_shares[:q], 3) if ngram_shares is not None else ([], 0)
        d.memory_modes, d.memory_decays, d.memory_kappas = ([v[:q] for v in memory] if memory else ([], [], []))
        d.blend_mean, d.keep_blend = 0.0, True
        return d

    monkeypatch.setattr(prior_loop, "decide", forced)
    tc = PriorTrainConfig(steps=20, eval_every=10, augment=False)
    train_prior(PriorRequest(model_path=path, run_dir=run_dir, data_dir=dataset, train=tc,
                             prior_overrides={"d_model": 32, "layers": 1, "context": 8}))


@pytest.mark.parametrize("loop", [False, True])
def test_train_prior_stores_the_table_and_every_sampler_reads_it(tiny_model, dataset, tmp_path, monkeypatch, loop):
    path = tmp_path / "m.distill"
    shutil.copyfile(tiny_model, path)

    train_with_forced_blend(path, dataset, tmp_path / "run", monkeypatch, cross_shares=[0.0, 0.5, 0.6])
    mf = load_model_file(path)
    assert mf.doc["prior"]["config"]["cross_weights"] == [0.0, 0.5, 0.6][: len(mf.document.codebook_sizes)]
    assert "cross" in mf.group("prior")
    prior = Prior.from_model_file(path)
    assert prior.model.use_cross and prior.model.cross.abs().sum() > 0
    s = SamplingSettings(seed=0)
    if loop:
        grid = prior.loop(12, s)
        assert grid.shape == (prior.levels, 12)
        again = prior.regenerate_region(grid, 3, 7, s, levels=[prior.levels - 1])
        assert np.array_equal(again[:, :3], grid[:, :3]) and np.array_equal(again[:-1], grid[:-1])
    else:
        grid = prior.generate(12, s)
        assert np.array_equal(grid, prior.generate(12, s)) and np.isfinite(prior.score(grid))
        assert prior.continue_codes(grid, 4, 16, s)[:, :4].tolist() == grid[:, :4].tolist()


def test_the_blend_is_read_at_the_network_s_best_step_not_at_its_own():
    """A blend that only wins at a step where the network is worse is not taken (fewer choices, held out better)."""
    net = [[200, 200], [160, 160], [180, 180]]  # the network is best at step 10
    three = next(k for k, c in enumerate(BLEND_CANDIDATES) if c.kind == "linear" and c.weight == 0.5 and c.cross == 0.3)
    folds = [fold(net, 330, [three], [100, 100]) for _ in range(3)]  # a lucky blend at step 20 only
    d = decide(folds, 6, 20)
    assert d.best_step == 10 and d.blend_step == 10 and d.cross_weights == [] and d.blend_mean == pytest.approx(3.2)
    for f in folds:
        f.blended[1][three] = [150, 150]  # the same blend also wins at the network's step
    d = decide(folds, 6, 20)
    assert d.blend_step == 10 and d.cross_weights == [0.3, 0.3] and d.blend_mean == pytest.approx(3.0) and d.keep_blend
