"""Full decode and partial re-decode: agreement, an untouched spectrogram outside the edit's reach, no clicks."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from distill_tui.analysis.quality import log_spectral_distance
from distill_tui.codes import edits as E
from distill_tui.codes.selection import Selection
from distill_tui.inference.audition import Auditioner, levels_up_to

from .conftest import synth


@pytest.fixture(scope="module")
def setup(tiny_model, tmp_path_factory):
    from distill_tui.inference.codec import load_codec

    path = tmp_path_factory.mktemp("aud") / "m.distill"
    shutil.copy(tiny_model, path)
    codec = load_codec(path)
    sound = np.concatenate([synth("pluck", 1.0), synth("pad", 1.5, seed=1), synth("kick", 0.5)])
    grid = codec.encode_samples(sound, name="mix")
    aud = Auditioner(codec)
    return codec, grid, aud, aud.full(grid)


def test_full_decode_is_the_codecs_decode(setup):
    codec, grid, aud, base = setup
    ref = codec.decode(grid)
    assert np.array_equal(base.audio, ref.audio) and np.allclose(base.db, ref.db)
    assert base.db.shape == (codec.spec.n_fft // 2 + 1, grid.positions * codec.cfg.stride)
    assert not base.partial and base.frames == (0, base.db.shape[1])


def test_receptive_field_bounds_what_an_edit_changes(setup):
    codec, grid, aud, base = setup
    rf = aud.rf
    assert rf.left > 0 and rf.right > 0 and rf.stride == codec.cfg.stride
    g = grid.copy()
    p = g.positions // 2
    g.codes[0, p] = (g.codes[0, p] + 1) % g.codebook_sizes[0]
    db = codec.decode_db(g.codes).numpy()
    a, b = rf.frames(p, p + 1, db.shape[1])
    moved = np.flatnonzero(np.abs(db - base.db).max(axis=0) > 0)
    assert len(moved) and moved.min() >= a and moved.max() < b


@pytest.mark.parametrize("level,where", [(0, 0.5), (1, 0.3), (0, 0.0), (1, 1.0)])
def test_partial_redecode_matches_a_full_decode(setup, level, where):
    codec, grid, aud, base = setup
    g = grid.copy()
    p = min(int(where * g.positions), g.positions - 1)
    E.SetCell(level=level, position=p, code=(int(g.codes[level, p]) + 5) % g.codebook_sizes[level]).do(g)
    part = aud.update(g, base)
    full = aud.full(g)
    assert part.partial
    a, b = aud.rf.frames(p, p + 1, base.db.shape[1])
    outside = np.ones(base.db.shape[1], dtype=bool)
    outside[a:b] = False
    assert np.array_equal(part.db[:, outside], base.db[:, outside])  # the very same numbers
    assert np.allclose(part.db, full.db, atol=1e-3)
    assert log_spectral_distance(full.audio, part.audio) < 0.5
    s0, s1 = part.samples
    assert 0 <= s0 < s1 <= len(part.raw) and s1 - s0 < len(part.raw)
    assert np.array_equal(part.raw[:s0], base.raw[:s0]) and np.array_equal(part.raw[s1:], base.raw[s1:])
    assert len(part.audio) == len(full.audio)


def test_splice_has_no_clicks(setup):
    codec, grid, aud, base = setup
    g = grid.copy()
    p = g.positions // 2
    E.Fill(selection=Selection(0, None, p, p + 2), code=0).do(g)
    part = aud.update(g, base)
    s0, s1 = part.samples
    step = np.abs(np.diff(part.raw))  # sample-to-sample jumps
    typical = np.percentile(np.abs(np.diff(aud.full(g).raw)), 99.9)
    for edge in (s0, s1):
        window = step[max(edge - 64, 0) : edge + 64]
        assert window.max() <= 1.5 * typical + 1e-6


def test_no_change_reuses_everything_and_other_changes_decode_fully(setup):
    codec, grid, aud, base = setup
    same = aud.update(grid.copy(), base)
    assert np.array_equal(same.audio, base.audio) and same.samples == (0, 0)
    longer = grid.copy()
    E.RepeatColumns(start=0, stop=2, times=2).do(longer)
    assert not aud.update(longer, base).partial
    assert levels_up_to(1, 2) == (1,) and levels_up_to(2, 2) == ()
    muted = aud.update(grid, base, muted=levels_up_to(1, grid.levels))
    assert not muted.partial and muted.muted == (1,)
    assert np.array_equal(muted.db, codec.decode_db(grid.codes, [1]).numpy())


def test_two_distant_edits_are_redecoded_separately(setup):
    codec, grid, aud, base = setup
    g = grid.copy()
    E.SetCell(level=0, position=1, code=(int(g.codes[0, 1]) + 3) % 16).do(g)
    E.SetCell(level=0, position=g.positions - 2, code=(int(g.codes[0, -2]) + 3) % 16).do(g)
    part = aud.update(g, base)
    full = aud.full(g)
    assert np.allclose(part.db, full.db, atol=1e-3)
    # Each re-decoded window differs from a full decode by what Griffin-Lim's start changes there, so two
    # windows give about twice the one-edit figure (this 40-step model on a Zen 3: one edit 0.21-0.32 dB, two
    # 0.46-0.53 over three seeds); on a real 5-minute model the one-edit figure is 0.10 dB median, 0.16 at most
    # (bench/bench_edit.py, bench/RESULTS.md "Thirteenth session").
    assert log_spectral_distance(full.audio, part.audio) < 2 * 0.5
    mid = len(base.raw) // 2
    assert np.array_equal(part.raw[mid - 100 : mid + 100], base.raw[mid - 100 : mid + 100])


def test_a_window_inside_the_grid_decodes_without_silent_edges_to_the_same_frames(setup):
    codec, grid, aud, base = setup
    ctx, p = aud.rf.context_positions, grid.positions // 2
    window = codec.decode_db(grid.codes[:, p - ctx : p + ctx + 1], edges=False).numpy()
    assert window.shape[1] == (2 * ctx + 1) * codec.cfg.stride  # no edge columns
    a, b = aud.rf.frames(p, p + 1, base.db.shape[1])
    off = (p - ctx) * codec.cfg.stride
    assert np.allclose(window[:, a - off : b - off], base.db[:, a:b], atol=1e-4)
    muted = codec.decode_db(grid.codes[:, p - ctx : p + ctx + 1], [1], edges=False).numpy()
    assert np.allclose(muted[:, a - off : b - off], codec.decode_db(grid.codes, [1]).numpy()[:, a:b], atol=1e-4)


def test_edits_anywhere_decode_windows_of_one_shape(setup, monkeypatch):
    codec, grid, aud, base = setup
    shapes = []
    decode_db = codec.decode_db

    def spy(codes, muted=(), **kw):
        shapes.append(codes.shape[1])
        return decode_db(codes, muted, **kw)

    monkeypatch.setattr(codec, "decode_db", spy)
    for p in (0, 2, grid.positions // 2, grid.positions - 2, grid.positions - 1):
        g = grid.copy()
        E.SetCell(level=0, position=p, code=(int(g.codes[0, p]) + 3) % g.codebook_sizes[0]).do(g)
        aud.update(g, base)
    assert len(shapes) == 5 and len(set(shapes)) == 1, shapes  # a new shape costs the convolutions' setup again


def test_a_long_grid_decodes_by_chunks_as_an_export_does_and_edits_match_it(setup, monkeypatch):
    """The editor decoded a 3-minute sound in one Griffin-Lim pass (28 s here, out of the CPU's caches) where an
    export goes by chunks (10 s). Chunks of 0.5 s stand in for 30 s, so this 3-s sound has six."""
    from distill_tui.inference import codec as C

    codec, grid, _, _ = setup
    monkeypatch.setattr(C, "CHUNK_SECONDS", 0.5)
    bounds = codec.chunk_bounds(grid.positions)
    assert bounds is not None and len(bounds) >= 4
    aud = Auditioner(codec)
    base = aud.full(grid)
    ref = codec.decode(grid)
    assert np.array_equal(base.audio, ref.audio) and np.allclose(base.db, ref.db, atol=1e-4)  # what an export gives
    for p in (bounds[1][0], bounds[2][0] + 3, grid.positions // 2):  # at a seam, just past one, in the middle
        g = grid.copy()
        E.SetCell(level=0, position=p, code=(int(g.codes[0, p]) + 7) % g.codebook_sizes[0]).do(g)
        part = aud.update(g, base)
        full = aud.full(g)
        assert part.partial and log_spectral_distance(full.audio, part.audio) < 0.5, p
        a, _ = aud.rf.frames(p, p + 1, base.db.shape[1])
        assert np.array_equal(part.raw[: max(a - aud.margin, 0) * codec.spec.hop_length - codec.spec.n_fft],
                              base.raw[: max(a - aud.margin, 0) * codec.spec.hop_length - codec.spec.n_fft])
    assert base.phase0.shape == base.phase.shape == base.db.shape


def test_the_warm_phase_is_kept_only_when_a_warm_start_reads_it(setup):
    """By default an edit starts Griffin-Lim from the PGHI phase, and the phase after Griffin-Lim is read by
    nothing: it is no longer copied per edit (40 ms on a 3-minute sound). A warm start still carries it on."""
    import torch

    codec, grid, aud, base = setup
    g = grid.copy()
    p = g.positions // 2
    E.SetCell(level=0, position=p, code=(int(g.codes[0, p]) + 9) % g.codebook_sizes[0]).do(g)
    before = base.phase.clone()
    part = aud.update(g, base)
    assert part.phase is base.phase and torch.equal(base.phase, before)  # shared, untouched
    warm = Auditioner(codec, partial_iters=12)
    start = warm.full(grid)
    kept = start.phase.clone()
    moved = warm.update(g, start)
    assert moved.phase is not start.phase and torch.equal(start.phase, kept)  # the previous one stays as it was
    a, b = warm.rf.frames(p, p + 1, start.db.shape[1])
    assert not torch.equal(moved.phase[:, a:b], kept[:, a:b])  # near the change: the new phases
    assert log_spectral_distance(aud.full(g).audio, moved.audio) < 1.0


def _arrays(a):
    return a.db.copy(), a.phase0.clone(), a.raw.copy(), a.phase.clone()


@pytest.mark.parametrize("partial_iters", [None, 4])
def test_an_update_that_takes_over_the_previous_decode_gives_the_same_sound(setup, partial_iters):
    """`reuse=True` (the editor's way: the arrays of a 3-minute sound's decode were copied at every edit, most of its
    time) changes the previous decode's arrays in place: a chain of edits sounds exactly as with copies."""
    codec, grid, _, _ = setup
    aud = Auditioner(codec, partial_iters=partial_iters)
    g = grid.copy()
    copied, taken = aud.full(g), aud.full(g)
    rng = np.random.default_rng(3)
    for _ in range(4):
        q, p = int(rng.integers(0, g.levels)), int(rng.integers(0, g.positions))
        E.SetCell(level=q, position=p, code=(int(g.codes[q, p]) + 5) % g.codebook_sizes[q]).do(g)
        kept = _arrays(copied)
        copied_next = aud.update(g, copied)
        assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(kept, _arrays(copied), strict=True))
        taken_next = aud.update(g, taken, reuse=True)
        assert taken_next.db is taken.db and taken_next.raw is taken.raw  # taken over, not copied
        assert np.array_equal(taken_next.audio, copied_next.audio) and np.array_equal(taken_next.db, copied_next.db)
        assert torch_equal(taken_next.phase0, copied_next.phase0) and taken_next.samples == copied_next.samples
        copied, taken = copied_next, taken_next


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_an_update_that_fails_half_way_leaves_the_decode_it_took_over_whole(setup, monkeypatch):
    """A failure after the spectrogram and the initial phase were written (here in Griffin-Lim) puts them back."""
    import distill_tui.inference.audition as audition

    codec, grid, _, _ = setup
    aud = Auditioner(codec)
    g = grid.copy()
    base = aud.full(g)
    kept = _arrays(base)
    E.Fill(selection=Selection(0, None, 2, 4), code=1).do(g)

    def fail(*args, **kwargs):
        raise MemoryError("out of memory")

    monkeypatch.setattr(audition, "griffin_lim", fail)
    with pytest.raises(MemoryError):
        aud.update(g, base, reuse=True)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(kept, _arrays(base), strict=True))
    monkeypatch.undo()
    expected = aud.update(g, aud.full(grid.copy()))  # from a decode nothing touched
    again = aud.update(g, base, reuse=True)  # it still serves as the start of the update
    assert np.array_equal(again.audio, expected.audio) and np.array_equal(again.db, expected.db)
