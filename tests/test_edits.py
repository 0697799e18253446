"""Edit operations: each one's effect, its undo, clipping, refusals across models, patterns and templates."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from distill_tui.codes import edits as E
from distill_tui.codes.clipboard import Clipboard
from distill_tui.codes.grid import CodeGrid
from distill_tui.codes.patterns import TemplateStore, alternate, euclid, euclidean_rhythm, motif, ramp
from distill_tui.codes.selection import Selection
from distill_tui.errors import BadInputError
from distill_tui.model.latent import EmbeddingMap, latent, nearest_codes, requantize, requantize_blend
from distill_tui.threads import torch_threads

from .conftest import synth


def grid(levels: int = 3, positions: int = 20, k: int = 16, seed: int = 0, fp: str = "aaaa") -> CodeGrid:
    codes = np.random.default_rng(seed).integers(0, k, (levels, positions))  # (Q, P)
    return CodeGrid(codes, fp, [k] * levels, 22050, 256, 4, name="g", source={"samples": (positions * 4 - 1) * 256})


def roundtrip(edit: E.Edit, g: CodeGrid) -> E.EditResult:
    """Do, undo (must restore), redo (must replay the same values)."""
    before = g.codes.copy()
    res = edit.do(g)
    after = g.codes.copy()
    edit.undo(g)
    assert np.array_equal(g.codes, before)
    edit.do(g)
    assert np.array_equal(g.codes, after)
    return res


# ---- selections


def test_selection_clips_to_the_grid():
    assert Selection(-3, 99, -5, 500).clip(3, 20) == Selection(0, 3, 0, 20)
    assert Selection(5, 9, 0, 4).clip(3, 20).empty
    assert Selection.column(7).clip(3, 20) == Selection(0, 3, 7, 8)
    assert Selection.level(1).clip(3, 20) == Selection(1, 2, 0, 20)
    assert Selection(0, 1, 30, 40).clip(3, 20).empty


def test_edit_outside_the_grid_touches_nothing():
    g = grid()
    before = g.codes.copy()
    res = E.Fill(selection=Selection(0, 3, 50, 60), code=1).do(g)
    assert res.changed.empty and np.array_equal(g.codes, before)
    res = E.Fill(selection=Selection(0, 3, 18, 60), code=1).do(g)  # partly outside: clipped
    assert res.changed == Selection(0, 3, 18, 20) and (g.codes[:, 18:] == 1).all()


# ---- one-grid edits


def test_set_fill_reverse():
    g = grid()
    roundtrip(E.SetCell(level=1, position=4, code=9), g)
    assert g.codes[1, 4] == 9
    roundtrip(E.Fill(selection=Selection.column(2), code=3), g)
    assert (g.codes[:, 2] == 3).all()
    row = g.codes[0, 5:10].copy()
    roundtrip(E.Reverse(selection=Selection(0, 1, 5, 10)), g)
    assert np.array_equal(g.codes[0, 5:10], row[::-1])


def test_code_outside_a_codebook_is_refused_and_changes_nothing():
    g = grid(k=16)
    before = g.codes.copy()
    with pytest.raises(BadInputError, match="level 2"):
        E.Fill(selection=Selection(1, 2, 0, 3), code=16).do(g)
    with pytest.raises(BadInputError):
        E.SetCell(level=0, position=0, code=-1).do(g)
    assert np.array_equal(g.codes, before)


def test_nudge_follows_the_perceptual_order_and_stops_at_its_ends():
    g = grid(levels=1, positions=4, k=4)
    g.codes[0] = [2, 0, 3, 1]
    order = [np.array([3, 1, 0, 2])]  # darkest .. brightest
    roundtrip(E.Nudge(selection=Selection(), step=1, order=order), g)
    assert g.codes[0].tolist() == [2, 2, 1, 0]  # 2 is the top: stays
    E.Nudge(selection=Selection(), step=-2, order=order).do(g)
    assert g.codes[0].tolist() == [1, 1, 3, 3]


def test_fill_pattern_tiles_and_keeps_holes():
    g = grid(levels=2, positions=8)
    before = g.codes.copy()
    roundtrip(E.FillPattern(selection=Selection(0, 1, 0, 8), pattern=euclid(5, 3, 8)), g)
    assert g.codes[0].tolist()[::3] == [5, 5, 5] and (g.codes[1] == before[1]).all()
    assert g.codes[0, 1] == before[0, 1]  # a hole: left alone
    E.FillPattern(selection=Selection(0, 2, 0, 8), pattern=alternate(1, 2)).do(g)
    assert g.codes.tolist() == [[1, 2] * 4] * 2
    E.FillPattern(selection=Selection(0, 2, 0, 8), pattern=motif([[7, 8], [9, 10]], every=4)).do(g)
    assert g.codes[:, 0:2].tolist() == [[7, 8], [9, 10]] and g.codes[:, 4:6].tolist() == [[7, 8], [9, 10]]
    assert g.codes[:, 2:4].tolist() == [[1, 2], [1, 2]]


def test_pattern_helpers():
    assert "".join("x" if v else "." for v in euclidean_rhythm(3, 8)) == "x..x..x."
    assert euclidean_rhythm(4, 16).sum() == 4 and euclidean_rhythm(0, 5).sum() == 0
    with pytest.raises(BadInputError):
        euclidean_rhythm(9, 8)
    order = np.array([4, 2, 0, 1, 3])
    r = ramp(order, start=4, end=3, length=5)[0]
    assert r.tolist() == [4, 2, 0, 1, 3]
    assert euclid(1, 2, 4, background=0)[0].tolist() == [1, 0, 1, 0]


def test_randomize_modes_are_reproducible_and_respect_their_source():
    g = grid(levels=2, positions=200, k=16)
    a = g.copy()
    E.Randomize(selection=Selection(), mode="uniform", seed=3).do(a)
    b = g.copy()
    E.Randomize(selection=Selection(), mode="uniform", seed=3).do(b)
    assert np.array_equal(a.codes, b.codes) and not np.array_equal(a.codes, g.codes)
    usage = [np.array([0] * 14 + [5, 1]), np.array([1] + [0] * 15)]
    c = g.copy()
    roundtrip(E.Randomize(selection=Selection(), mode="usage", seed=1, usage=usage), c)
    assert set(c.codes[0].tolist()) <= {14, 15} and set(c.codes[1].tolist()) == {0}
    emb = np.arange(16, dtype=np.float64)[:, None]  # codes on a line: neighbours are +-1, +-2
    nb = [nearest_codes(emb, 2)] * 2
    d = g.copy()
    E.Randomize(selection=Selection(), mode="nearest", seed=2, neighbours=nb).do(d)
    assert (np.abs(d.codes - g.codes) <= 2).all() and (d.codes != g.codes).all()
    with pytest.raises(BadInputError, match="usage"):
        E.Randomize(selection=Selection(), mode="usage").do(g.copy())


def test_randomize_without_seed_replays_exactly_on_redo():
    g = grid()
    roundtrip(E.Randomize(selection=Selection(), mode="uniform"), g)


# ---- columns


def test_column_edits_and_their_undo():
    g = grid(levels=2, positions=10)
    samples = g.source["samples"]
    per = g.stride * g.hop_length
    res = roundtrip(E.RepeatColumns(start=2, stop=5, times=3), g)
    assert res.resized and g.positions == 16 and np.array_equal(g.codes[:, 5:8], g.codes[:, 2:5])
    assert np.array_equal(g.codes[:, 8:11], g.codes[:, 2:5]) and g.source["samples"] == samples + 6 * per
    d = E.DuplicateColumns(0, 1)
    roundtrip(d, g)
    assert g.positions == 17 and np.array_equal(g.codes[:, 0], g.codes[:, 1])
    roundtrip(E.DeleteColumns(start=3, stop=100), g)
    assert g.positions == 3
    roundtrip(E.InsertColumns(at=1, values=np.zeros((2, 2), dtype=np.int64)), g)
    assert g.positions == 5 and (g.codes[:, 1:3] == 0).all()
    with pytest.raises(BadInputError, match="every column"):
        E.DeleteColumns(start=0, stop=99).do(g)


def test_undo_of_column_edit_restores_the_sample_count():
    g = grid(levels=1, positions=6)
    before = dict(g.source)
    e = E.DeleteColumns(start=0, stop=2)
    e.do(g)
    assert g.source["samples"] < before["samples"]
    e.undo(g)
    assert g.source == before


# ---- clipboard, paste, swap, take levels


def test_copy_paste_overwrite_and_mix_and_clipping():
    a, b = grid(seed=1), grid(seed=2)
    clip = Clipboard.copy_from(a, Selection(1, 3, 2, 6))
    roundtrip(E.Paste(clip=clip, position=10), b)
    assert np.array_equal(b.codes[1:3, 10:14], a.codes[1:3, 2:6])
    c = grid(seed=3)
    E.Paste(clip=clip, position=18).do(c)  # runs past the end: clipped
    assert np.array_equal(c.codes[1:3, 18:20], a.codes[1:3, 2:4])
    d = grid(seed=4)
    E.Paste(clip=clip, position=-2).do(d)
    assert np.array_equal(d.codes[1:3, 0:2], a.codes[1:3, 4:6])
    holey = Clipboard(values=np.array([[5, -1, 6]]), level_start=0, model_fingerprint="aaaa", codebook_sizes=[16] * 3)
    e = grid(seed=5)
    before = e.codes.copy()
    E.Paste(clip=holey, position=0, mode="mix").do(e)
    assert e.codes[0, :3].tolist() == [5, before[0, 1], 6]
    with pytest.raises(BadInputError, match="empty cells"):
        E.Paste(clip=holey, position=0).do(e)
    E.Paste(clip=holey, position=0, background=[0, 0, 0]).do(e)
    assert e.codes[0, :3].tolist() == [5, 0, 6]


def test_copy_outside_the_grid_is_refused():
    with pytest.raises(BadInputError, match="outside"):
        Clipboard.copy_from(grid(), Selection(0, 1, 40, 50))


def test_across_models_everything_is_refused_with_both_fingerprints():
    a, b = grid(fp="aaaa"), grid(fp="bbbb")
    c = grid(levels=2, k=8, fp="cccc")
    before_b = b.codes.copy()
    clip = Clipboard.copy_from(a, Selection())
    for edit, target in [
        (E.Paste(clip=clip, position=0), b),
        (E.SwapRegion(selection=Selection(), other=a), b),
        (E.TakeLevels(source=a, levels=[1]), b),
        (E.TakeLevels(source=c, levels=[1]), b),
        (E.Blend(selection=Selection(), other=a, quantizer=object()), b),
    ]:
        with pytest.raises(BadInputError, match="aaaa|cccc") as info:
            edit.do(target)
        assert "bbbb" in str(info.value) and "embedding" in str(info.value)
    assert np.array_equal(b.codes, before_b)


def test_swap_between_two_grids_and_its_undo():
    a, b = grid(seed=1), grid(seed=2, positions=12)
    a0, b0 = a.codes.copy(), b.codes.copy()
    e = E.SwapRegion(selection=Selection(0, 2, 5, 15), other=b, other_position=8)
    res = e.do(a)
    assert res.changed == Selection(0, 2, 5, 9) and res.other_changed == Selection(0, 2, 8, 12)  # cut to what fits B
    assert np.array_equal(a.codes[0:2, 5:9], b0[0:2, 8:12]) and np.array_equal(b.codes[0:2, 8:12], a0[0:2, 5:9])
    assert e.touched(a) == (a, b)
    e.undo(a)
    assert np.array_equal(a.codes, a0) and np.array_equal(b.codes, b0)
    with pytest.raises(BadInputError, match="overlapping"):
        E.SwapRegion(selection=Selection(0, 1, 0, 5), other=a, other_position=3).do(a)


def test_take_levels_stretch_and_crop():
    a = grid(levels=3, positions=8, seed=1)
    b = grid(levels=3, positions=4, seed=2)
    a0 = a.codes.copy()
    roundtrip(E.TakeLevels(source=b, levels=[1, 2], align="stretch"), a)
    assert np.array_equal(a.codes[0], a0[0])
    assert a.codes[1].tolist() == np.repeat(b.codes[1], 2).tolist()
    c = a0.copy()
    a.codes[...] = c
    E.TakeLevels(source=b, levels=[2], align="crop").do(a)
    assert a.codes[2, :4].tolist() == b.codes[2].tolist() and np.array_equal(a.codes[2, 4:], c[2, 4:])
    long = grid(levels=3, positions=30, seed=3)
    E.TakeLevels(source=long, levels=[0], align="crop").do(a)
    assert np.array_equal(a.codes[0], long.codes[0, :8])
    with pytest.raises(BadInputError, match="level 4 does not exist"):
        E.TakeLevels(source=b, levels=[3]).do(a)


# ---- the prior (a stand-in with the API of inference.generate.Prior)


class FakePrior:
    """Fills regions with (level + 1) and continues with 7s; records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def regenerate_region(self, codes, start, end, settings, *, levels=None, candidates=4):
        self.calls.append(("region", start, end, tuple(levels or []), settings))
        out = codes.copy()
        for q in levels if levels is not None else range(codes.shape[0]):
            out[q, start:end] = q + 1
        return out

    def regenerate_masked(self, codes, free, settings, *, candidates=4):
        """(level + 1) in the free cells, and 9 in every other: only the free ones may reach the grid."""
        self.calls.append(("masked", free.copy(), settings))
        out = np.full_like(codes, 9)
        rows = np.arange(codes.shape[0])[:, None].repeat(codes.shape[1], axis=1)
        out[free] = rows[free] + 1
        return out

    def continue_codes(self, codes, prompt_positions, total_positions, settings):
        self.calls.append(("continue", codes.shape[1], prompt_positions, total_positions))
        out = np.full((codes.shape[0], total_positions), 7, dtype=np.int64)
        out[:, :prompt_positions] = codes[:, :prompt_positions]
        return out


def test_regenerate_and_continue_with_a_prior():
    g = grid(levels=3, positions=10)
    prior = FakePrior()
    roundtrip(E.Regenerate(selection=Selection(1, 3, 2, 5), prior=prior, settings="S"), g)
    assert g.codes[1, 2:5].tolist() == [2, 2, 2] and g.codes[2, 2:5].tolist() == [3, 3, 3]
    assert len(prior.calls) == 1 and prior.calls[0] == ("region", 2, 5, (1, 2), "S")  # redo did not resample
    before = g.codes.copy()
    res = roundtrip(E.Continue(total_positions=14, prior=prior, settings="S", prompt_positions=4), g)
    assert res.resized and g.positions == 14 and np.array_equal(g.codes[:, :10], before) and (g.codes[:, 10:] == 7).all()
    assert prior.calls[-1] == ("continue", 4, 4, 8)
    with pytest.raises(BadInputError, match="already has"):
        E.Continue(total_positions=5, prior=prior).do(g)


def test_regenerate_only_the_free_cells_of_a_selection():
    """Every other column of levels 2-3, positions 2-7: the prior hears the kept cells and only the free ones are
    written, whatever else it returns; undo and redo hold."""
    g = grid(levels=3, positions=10)
    before = g.codes.copy()
    prior = FakePrior()
    sel = Selection(1, 3, 2, 8)
    free = np.zeros(sel.shape, dtype=bool)
    free[:, ::2] = True  # columns 2, 4, 6
    roundtrip(E.Regenerate(selection=sel, prior=prior, settings="S", free=free), g)
    expect = before.copy()
    expect[1, [2, 4, 6]], expect[2, [2, 4, 6]] = 2, 3
    assert np.array_equal(g.codes, expect)
    (kind, asked, settings), = prior.calls  # redo did not resample
    whole = np.zeros(g.codes.shape, dtype=bool)
    whole[1:3, [2, 4, 6]] = True
    assert kind == "masked" and settings == "S" and np.array_equal(asked, whole)
    with pytest.raises(BadInputError, match="do not match the selection"):
        E.Regenerate(selection=sel, prior=prior, settings="S", free=free[:, :3]).do(grid(levels=3, positions=10))


# ---- templates


def test_templates_are_kept_per_model(tmp_path):
    store = TemplateStore(tmp_path)
    a = grid(fp="aaaa")
    clip = Clipboard.copy_from(a, Selection(0, 2, 0, 4))
    store.save("kick groove", clip)
    assert store.names("aaaa") == ["kick groove"]
    back = store.load("kick groove", grid(fp="aaaa", seed=9))
    assert np.array_equal(back.values, clip.values) and back.level_start == 0
    with pytest.raises(BadInputError, match="no template"):
        store.load("kick groove", grid(fp="bbbb"))
    with pytest.raises(BadInputError, match="template name"):
        store.save("../escape", clip)
    (tmp_path / "aaaa" / "broken.json").write_text("{not json")
    with pytest.raises(BadInputError, match="cannot read"):
        store.load("broken", a)


def test_template_store_defaults_to_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.delenv("DISTILL_TEMPLATES", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert TemplateStore().root == tmp_path / "distill-tui" / "templates"


# ---- on a tiny real model: blend, re-quantize, mapping through embeddings, every operation


@pytest.fixture(scope="module")
def codec(tiny_model, tmp_path_factory):
    from distill_tui.inference.codec import load_codec

    path = tmp_path_factory.mktemp("edits") / "m.distill"
    shutil.copy(tiny_model, path)
    return load_codec(path)


@pytest.fixture(scope="module")
def real_grids(codec):
    a = codec.encode_samples(synth("pluck", 1.0), name="a")
    b = codec.encode_samples(synth("noise", 1.0, seed=2) + synth("tone", 1.0), name="b")
    return a, b


def other_quantizer(levels: int = 3, size: int = 8, dim: int = 8):
    from distill_tui.config import ModelConfig
    from distill_tui.model.quantizer import Quantizer

    torch.manual_seed(0)
    q = Quantizer(ModelConfig(latent_dim=dim, levels=levels, codebook_sizes=[size] * levels, kmeans_init=False))
    return q.eval()


def test_blend_endpoints_and_middle(codec, real_grids):
    a, b = real_grids
    q = codec.model.quantizer
    n = min(a.positions, b.positions)
    for amount, expect in ((0.0, a.codes), (1.0, b.codes)):
        g = a.copy()
        E.Blend(selection=Selection(0, None, 0, n), other=b, amount=amount, quantizer=q).do(g)
        assert np.array_equal(g.codes[:, :n], expect[:, :n])
    g = a.copy()
    roundtrip(E.Blend(selection=Selection(), other=b, amount=0.5, quantizer=q), g)
    g.validate()
    assert not np.array_equal(g.codes, a.codes)
    for amount in (1.5, -0.1, float("nan")):  # refused when the edit is made, before any work
        with pytest.raises(BadInputError, match=r"from 0 \(keep A\) to 1 \(take B\)"):
            E.Blend(selection=Selection(), other=b, amount=amount, quantizer=q)


def test_requantize_keeps_the_residual_quantizer_untouched(codec, real_grids):
    a, _ = real_grids
    q = codec.model.quantizer
    before = [q.embeddings(i).clone() for i in range(codec.cfg.levels)]
    q.rvq.train()  # even if someone left it in training mode
    try:
        requantize_blend(q, a.codes, a.codes[:, ::-1].copy(), 0.3)
        assert q.rvq.training  # its mode is given back
    finally:
        q.rvq.eval()
    for i, e in enumerate(before):
        assert torch.equal(q.embeddings(i), e)


def test_fast_latent_and_requantize_equal_the_librarys(codec, real_grids):
    """The loaded model's stored codebooks, and the training model's library quantizer, against the library."""
    from distill_tui.model.vqvae import VQVAE

    a, b = real_grids
    library = VQVAE(codec.cfg, floor_db=codec.spec.floor_db)
    library.load_state_dict(codec.model.state_dict())
    lib = library.eval().quantizer
    codes = np.stack([a.codes[:, :20], b.codes[:, :20]])  # (2, Q, 20)
    with torch.no_grad():
        ref = lib.rvq.get_output_from_indices(torch.from_numpy(codes).long().transpose(1, 2))  # (2, 20, D)
        z = torch.lerp(ref[0:1], ref[1:2], 0.3) + 0.05 * torch.randn(1, 20, ref.shape[-1])
        _, idx, _ = lib.rvq(z)
    for q in (codec.model.quantizer, lib):
        with torch.no_grad():
            assert torch.allclose(latent(q, codes), ref, atol=1e-6)
            assert torch.allclose(q.decode_indices(torch.from_numpy(codes)), ref, atol=1e-6)
        assert np.array_equal(requantize(q, z)[0], idx[0].T.numpy())


def test_mapping_through_embeddings_when_asked(codec, real_grids):
    a, _ = real_grids
    oq = other_quantizer(levels=3, size=8, dim=codec.cfg.latent_dim)
    target = CodeGrid(np.zeros((3, 30), dtype=np.int64), "bbbb", [8, 8, 8], 22050, 256, 4)
    clip = Clipboard.copy_from(a, Selection(0, None, 0, 10))
    with pytest.raises(BadInputError, match="bbbb"):
        E.Paste(clip=clip, position=0).do(target)
    emap = EmbeddingMap(codec.model.quantizer, oq, codec.fingerprint, "bbbb")
    mapped = clip.mapped(emap)  # whole columns: re-quantized into 3 levels of 8
    assert mapped.model_fingerprint == "bbbb" and mapped.values.shape == (3, 10)
    roundtrip(E.Paste(clip=mapped, position=5), target)
    assert np.array_equal(target.codes[:, 5:15], mapped.values)
    part = Clipboard.copy_from(a, Selection(1, 2, 0, 10)).mapped(emap)  # one level: nearest code of level 2
    assert part.level_start == 1 and part.values.shape == (1, 10) and (part.values < 8).all()
    with pytest.raises(BadInputError, match="latent"):
        EmbeddingMap(codec.model.quantizer, other_quantizer(dim=codec.cfg.latent_dim + 1), codec.fingerprint, "cccc")
    with pytest.raises(BadInputError, match="not"):
        Clipboard.copy_from(target, Selection()).mapped(emap)  # a clipboard of the wrong model


def test_every_operation_on_a_tiny_real_model(codec, real_grids):
    """Each edit on grids encoded by a real model keeps them valid, undoes exactly, and decodes."""
    from distill_tui.analysis.perceptual import compute_perceptual

    a0, b = real_grids
    data = compute_perceptual(codec, codec.doc)
    nb = [nearest_codes(codec.model.quantizer.embeddings(q).numpy(), 3) for q in range(codec.cfg.levels)]
    clip = Clipboard.copy_from(b, Selection(0, None, 2, 8))
    ops: list[E.Edit] = [
        E.SetCell(level=0, position=3, code=5),
        E.Fill(selection=Selection.level(1), code=2),
        E.Nudge(selection=Selection(), step=1, order=data.order),
        E.Paste(clip=clip, position=4, mode="mix"),
        E.SwapRegion(selection=Selection(0, 1, 0, 6), other=b.copy()),
        E.TakeLevels(source=b, levels=[1], align="stretch"),
        E.InsertColumns(at=2, count=2),
        E.DeleteColumns(start=0, stop=1),
        E.DuplicateColumns(1, 3),
        E.RepeatColumns(start=0, stop=4, times=3),
        E.Reverse(selection=Selection(0, None, 2, 9)),
        E.Randomize(selection=Selection(1, 2, 0, 5), mode="uniform", seed=1),
        E.Randomize(selection=Selection(), mode="usage", seed=1, usage=data.usage),
        E.Randomize(selection=Selection(), mode="nearest", seed=1, neighbours=nb),
        E.Blend(selection=Selection(), other=b, amount=0.4, quantizer=codec.model.quantizer),
        E.FillPattern(selection=Selection(0, 1, 0, 16), pattern=euclid(3, 3, 8, background=data.typical[0])),
        E.FillPattern(selection=Selection(1, 2, 0, 16), pattern=ramp(data.order[1], int(data.order[1][0]), int(data.order[1][-1]), 8)),
        E.Regenerate(selection=Selection(0, None, 2, 4), prior=FakePrior()),
        E.Continue(total_positions=a0.positions + 5, prior=FakePrior()),
    ]
    for op in ops:
        g = a0.copy()
        roundtrip(op, g)
        g.validate()
        g.check_model(codec.fingerprint, codec.codebook_sizes)
        with torch_threads(1):  # two threads on a busy 2-core box mostly wait
            out = codec.decode(g, iters=2)
        assert np.isfinite(out.audio).all() and len(out.audio) > 0, type(op).__name__
