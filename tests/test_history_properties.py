"""Property tests: random edits then as many undos give the original back, redo replays exactly; dirty flags; save/load."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distill_tui.codes import edits as E
from distill_tui.codes.clipboard import Clipboard
from distill_tui.codes.grid import CodeGrid
from distill_tui.codes.history import EditHistory, EditSession
from distill_tui.codes.patterns import euclid
from distill_tui.codes.selection import Selection
from distill_tui.errors import BadInputError, CodesFileError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_grid(levels: int, positions: int, sizes: list[int], seed: int, fp: str = "f00d") -> CodeGrid:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, k, positions) for k in sizes])  # (Q, P)
    return CodeGrid(codes, fp, sizes, 22050, 256, 4, source={"samples": (positions * 4 - 1) * 256})


coord = st.integers(-3, 30)
inside = st.builds(lambda a, b, c, d: Selection(a, a + b, c, c + d), st.integers(0, 3), st.integers(1, 4), st.integers(0, 20), st.integers(1, 12))
anywhere = st.builds(lambda a, b, c, d: Selection(a, a + b, c, c + d), st.integers(-2, 6), st.integers(0, 6), coord, st.integers(0, 40))
sel = st.one_of(inside, inside, inside, anywhere)  # mostly inside the grid, sometimes partly or wholly outside


@st.composite
def edit_spec(draw: st.DrawFn) -> tuple:
    kind = draw(st.sampled_from(["set", "fill", "nudge", "reverse", "random", "pattern", "paste", "swap", "take",
                                 "insert", "delete", "repeat"]))
    code = draw(st.one_of(st.integers(0, 7), st.integers(0, 7), st.integers(0, 20)))  # sometimes outside a codebook
    return (kind, draw(sel), code, draw(coord), draw(st.integers(1, 3)), draw(st.booleans()))


def build(spec: tuple, a: CodeGrid, b: CodeGrid) -> tuple[E.Edit, CodeGrid]:
    """An edit from a spec, and the grid it is applied to (A or B)."""
    kind, s, code, pos, n, flag = spec
    target = b if flag and kind in ("set", "fill", "random") else a
    order = [np.roll(np.arange(k), 1) for k in a.codebook_sizes]
    if kind == "set":
        return E.SetCell(level=s.level_start, position=pos, code=code), target
    if kind == "fill":
        return E.Fill(selection=s, code=code), target
    if kind == "nudge":
        return E.Nudge(selection=s, step=1 if flag else -n, order=order), a
    if kind == "reverse":
        return E.Reverse(selection=s), a
    if kind == "random":
        return E.Randomize(selection=s, mode="uniform", seed=None), target  # fresh entropy: redo must replay it
    if kind == "pattern":
        return E.FillPattern(selection=s, pattern=euclid(code % 2, n, 4)), a
    if kind == "paste":
        csel = s.clip(b.levels, b.positions)
        if csel.empty:
            return E.Fill(selection=s, code=0), a
        return E.Paste(clip=Clipboard.copy_from(b, csel), position=pos, mode="mix" if flag else "overwrite"), a
    if kind == "swap":
        return E.SwapRegion(selection=s, other=b, other_position=pos), a
    if kind == "take":
        return E.TakeLevels(source=b, levels=[s.level_start % a.levels], align="stretch" if flag else "crop"), a
    if kind == "insert":
        return E.InsertColumns(at=pos, count=n), a
    if kind == "delete":
        return E.DeleteColumns(start=pos, stop=pos + n), a
    return E.RepeatColumns(start=s.pos_start, stop=s.pos_start + n, times=n + 1), a


def snapshot(*grids: CodeGrid) -> list[tuple[np.ndarray, dict]]:
    return [(g.codes.copy(), dict(g.source)) for g in grids]


def same(x: list, y: list) -> bool:
    return all(np.array_equal(c1, c2) and s1 == s2 for (c1, s1), (c2, s2) in zip(x, y, strict=True))


@FAST
@given(
    levels=st.integers(1, 4), positions=st.integers(1, 24), size=st.integers(2, 12), seed=st.integers(0, 99),
    specs=st.lists(edit_spec(), min_size=1, max_size=25),
    save_at=st.integers(0, 25),
)
def test_undo_all_restores_and_redo_replays(levels, positions, size, seed, specs, save_at):
    sizes = [size + q for q in range(levels)]
    a, b = make_grid(levels, positions, sizes, seed), make_grid(levels, positions + 3, sizes, seed + 1)
    history = EditHistory()
    original = snapshot(a, b)
    at_step = {0: original}
    saved_step, saved = 0, original
    for i, spec in enumerate(specs):
        if i == save_at:  # save both here: from now on dirty means "not the saved state"
            history.mark_saved(a)
            history.mark_saved(b)
            saved_step, saved = history.undo_steps, snapshot(a, b)
        edit, target = build(spec, a, b)
        before = snapshot(a, b)
        try:
            history.apply(edit, target)
        except BadInputError:
            assert same(snapshot(a, b), before)  # a refused edit changes nothing
            continue
        a.validate()
        b.validate()
        at_step[history.undo_steps] = snapshot(a, b)
    final = snapshot(a, b)
    steps = history.undo_steps
    def check_dirty() -> None:
        now = snapshot(a, b)
        if history.undo_steps == saved_step:
            assert not history.is_dirty(a) and not history.is_dirty(b)
        for g, x, y in ((a, now[0], saved[0]), (b, now[1], saved[1])):
            if not same([x], [y]):
                assert history.is_dirty(g)

    check_dirty()
    while history.can_undo:
        history.undo()
        assert same(snapshot(a, b), at_step[history.undo_steps])
        check_dirty()
    assert same(snapshot(a, b), original)
    assert history.redo_steps == steps
    while history.can_redo:
        history.redo()
        assert same(snapshot(a, b), at_step[history.undo_steps])
        check_dirty()
    assert same(snapshot(a, b), final)


@FAST
@given(n_edits=st.integers(1, 12), save_at=st.integers(0, 12), back=st.integers(0, 12))
def test_dirty_flag_follows_the_saved_state(n_edits, save_at, back):
    g = make_grid(2, 10, [8, 8], 0)
    h = EditHistory()
    states = {0: g.codes.copy()}
    for i in range(n_edits):
        h.apply(E.SetCell(level=i % 2, position=i % 10, code=(int(g.codes[i % 2, i % 10]) + 1) % 8), g)
        states[i + 1] = g.codes.copy()
        if i + 1 == save_at:
            h.mark_saved(g)
    saved = save_at if save_at <= n_edits else 0
    assert h.is_dirty(g) == (n_edits != saved)
    for _ in range(min(back, n_edits)):
        h.undo()
    at = n_edits - min(back, n_edits)
    assert np.array_equal(g.codes, states[at])
    assert h.is_dirty(g) == (at != saved)


def test_every_edit_is_one_undo_step_whatever_the_time_between():
    g = make_grid(1, 10, [16], 0)
    orig = g.codes.copy()
    h = EditHistory()
    for p in range(4):  # keystrokes, however fast: one step each
        h.apply(E.SetCell(level=0, position=p, code=15), g)
    assert h.undo_steps == 4
    h.apply(E.Fill(selection=Selection(0, 1, 5, 6), code=1), g)
    h.apply(E.SetCell(level=0, position=6, code=2), g)
    assert h.undo_steps == 6
    h.undo()
    assert g.codes[0, 6] == orig[0, 6] and g.codes[0, 5] == 1
    for _ in range(5):
        h.undo()
    assert np.array_equal(g.codes, orig) and h.undo() is None


def test_history_is_bounded():
    g = make_grid(1, 10, [16], 0)
    h = EditHistory(max_checkpoints=3)
    for p in range(6):
        h.apply(E.SetCell(level=0, position=p, code=15), g)
    assert h.undo_steps == 3
    while h.undo():
        pass
    assert (g.codes[0, :3] == 15).all() and h.is_dirty(g)  # the first three can no longer be undone


def test_a_new_edit_after_undo_clears_redo():
    g = make_grid(1, 10, [16], 0)
    h = EditHistory()
    h.apply(E.SetCell(level=0, position=0, code=1), g)
    h.undo()
    assert h.can_redo
    h.apply(E.SetCell(level=0, position=1, code=1), g)
    assert not h.can_redo and h.redo() is None


@FAST
@given(
    levels=st.integers(1, 5), positions=st.integers(0, 40), size=st.integers(2, 300), seed=st.integers(0, 9),
    name=st.text(max_size=20), extra=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
)
def test_save_then_load_is_identity(tmp_path_factory, levels, positions, size, seed, name, extra):
    sizes = [size] * levels
    g = make_grid(levels, positions, sizes, seed)
    g.name, g.source = name, extra
    path = tmp_path_factory.mktemp("rt") / "g.codes.json"
    g.save(path)
    back = CodeGrid.load(path)
    assert np.array_equal(back.codes, g.codes) and back.codes.shape == g.codes.shape
    assert (back.name, back.source, back.codebook_sizes, back.model_fingerprint) == (g.name, g.source, g.codebook_sizes, g.model_fingerprint)
    assert (back.sample_rate, back.hop_length, back.stride) == (g.sample_rate, g.hop_length, g.stride)


# ---- sessions: A and B side by side, loads never lose unsaved edits


def test_session_refuses_to_load_over_unsaved_edits(tmp_path):
    a = make_grid(2, 10, [8, 8], 0)
    pa, pb = tmp_path / "a.codes.json", tmp_path / "b.codes.json"
    a.save(pa)
    make_grid(2, 12, [8, 8], 1).save(pb)
    s = EditSession()
    ga = s.open("A", pa)
    s.open("B", pb)
    assert not s.dirty("A")
    s.apply("A", E.SetCell(level=0, position=0, code=(int(ga.codes[0, 0]) + 1) % 8))
    assert s.dirty("A")
    with pytest.raises(BadInputError, match="unsaved"):
        s.open("A", pb)
    assert s.grid("A") is ga
    s.undo()
    assert not s.dirty("A")  # back to what is on disk
    s.redo()
    bad = tmp_path / "bad.codes.json"
    bad.write_text('{"format": "distill-codes", "version": 99}')
    with pytest.raises(CodesFileError, match="version"):
        s.open("A", bad, discard=True)
    assert s.grid("A") is ga and s.dirty("A")  # a refused file leaves the slot alone
    s.save("A")
    assert not s.dirty("A") and CodeGrid.load(pa).codes[0, 0] == ga.codes[0, 0]
    s.open("A", pb)
    assert s.grid("A").positions == 12


def test_session_swap_undoes_across_both_grids_and_replacing_one_clears_shared_steps():
    s = EditSession()
    a = s.open("A", make_grid(2, 10, [8, 8], 0))
    b = s.open("B", make_grid(2, 10, [8, 8], 1))
    a0, b0 = a.codes.copy(), b.codes.copy()
    s.apply("A", E.SwapRegion(selection=Selection(0, 2, 0, 5), other=b))
    s.apply("B", E.Fill(selection=Selection(0, 1, 0, 3), code=7))
    assert s.dirty("A") and s.dirty("B")
    s.undo()
    s.undo()
    assert np.array_equal(a.codes, a0) and np.array_equal(b.codes, b0)
    s.redo()
    s.redo()
    with pytest.raises(BadInputError):
        s.open("A", make_grid(2, 4, [8, 8], 2))
    s.open("A", make_grid(2, 4, [8, 8], 2), discard=True)
    assert not s.history.can_undo  # the swap wrote B too: no step of it can be replayed any more
    assert s.dirty("B")  # B's edits are still unsaved


def test_a_generated_grid_opens_dirty():
    s = EditSession()
    s.open("A", make_grid(1, 4, [8], 0), unsaved=True)
    assert s.dirty("A")
    with pytest.raises(BadInputError, match="give a path"):
        s.save("A")
