"""The editor on the bundled demo model, through a pilot: every key family, playing, generating, files, bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from rich.console import Console

from distill_tui.codes.grid import CodeGrid
from distill_tui.inference import session as session_module
from distill_tui.inference.session import NO_PRIOR_YET
from distill_tui.tui.app import DistillApp
from distill_tui.tui.screens import editor as editor_module
from distill_tui.tui.screens.confirm import ConfirmScreen
from distill_tui.tui.screens.confirm_unsaved import UnsavedScreen
from distill_tui.tui.screens.help import HelpScreen, help_table
from distill_tui.tui.screens.prompt import PromptScreen

from .conftest import synth
from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS, RecordingRouter, aio, copy_demo, decoded, until

pytestmark = pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing")

SIZE = (110, 32)
A_SOUND, B_SOUND = DEMO_SOUNDS / "pluck_a2.wav", DEMO_SOUNDS / "bell_g4.wav"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return copy_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def loaded_engine(demo: Path):
    return session_module.InferenceSession.load(demo)


@pytest.fixture
def app_factory(demo: Path, loaded_engine, monkeypatch, tmp_path: Path):
    """Apps on the demo model (loaded once per module: each app still loads it in a worker, from this cache)."""
    monkeypatch.chdir(tmp_path)
    real_load = session_module.InferenceSession.load

    def load(path):  # noqa: ANN001, ANN202
        return loaded_engine if Path(path) == demo else real_load(path)

    monkeypatch.setattr(session_module.InferenceSession, "load", staticmethod(load))
    monkeypatch.setattr(editor_module, "IDLE_FULL_DECODE_S", 600.0)  # tests look at the partial re-decodes

    def make(*audio: Path, model: Path | None = None) -> tuple[DistillApp, RecordingRouter]:
        router = RecordingRouter()
        return DistillApp(model or demo, list(audio) if audio else [A_SOUND, B_SOUND], router=router), router

    return make


async def ready(pilot, app: DistillApp, sounds: int = 2) -> None:
    editor = app.editor
    await until(pilot, lambda: editor.engine is not None and len(editor.ws.sounds) >= sounds and decoded(editor),
                what="the demo model and sounds")


@aio
async def test_opens_on_demo_sounds_and_plays_the_current_state(app_factory):
    app, router = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        assert ed.ws.a == "pluck_a2" and ed.ws.b == "bell_g4"
        assert ed.grid.look.labels[0] == "Structure"
        await pilot.press("space")
        await until(pilot, lambda: len(router.played) == 1, what="the first play")
        first, sr, name = router.played[0]
        sound = ed.ws.sounds["pluck_a2"]
        assert name == "pluck_a2" and sr == 44100 and np.array_equal(first, sound.audition.audio)
        await pilot.press("space")  # stop
        # an edit re-decodes only around the change, and space plays the edited sound
        await pilot.press("5", "l", "i", "0", "0", "escape")
        await until(pilot, lambda: decoded(ed), what="the partial re-decode")
        assert sound.audition.partial
        await pilot.press("space")
        await until(pilot, lambda: len(router.played) == 2, what="the second play")
        edited = router.played[1][0]
        assert edited.shape == first.shape and not np.array_equal(edited, first)
        lo, hi = sound.audition.samples
        assert 0 < hi - lo < len(first) and np.array_equal(edited[:lo], first[:lo])


@aio
async def test_a_pause_after_edits_brings_a_fresh_full_decode(app_factory, monkeypatch):
    monkeypatch.setattr(editor_module, "IDLE_FULL_DECODE_S", 0.2)
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        sound = ed.ws.sounds[ed.ws.a]
        await pilot.press("3", "l", "i", "1", "1", "escape")
        await until(pilot, lambda: decoded(ed) and not sound.audition.partial, what="the idle full decode")
        assert (sound.audition.codes == ed.ws.grid(ed.ws.a).codes).all()


async def ready_with_both_decoded(pilot, app: DistillApp) -> None:
    """`ready`, then B decoded too (its first decode is a full one) and back to A."""
    await ready(pilot, app)
    for _ in range(2):
        await pilot.press("o")
        await until(pilot, lambda: decoded(app.editor), what="a decode")


async def edit_during_the_idle_decode(pilot, ed, started) -> None:  # noqa: ANN001
    """Edit A, wait until its idle full decode has `started`, edit again: that edit is decoded (a partial re-decode
    of the grid as it is) within 2 s."""
    import time

    sound = ed.ws.sounds[ed.ws.a]
    await pilot.press("3", "l", "i", "1", "1", "escape")
    await until(pilot, started.is_set, what="the idle full decode")
    t0 = time.monotonic()
    await pilot.press("i", "2", "2", "escape")
    await until(pilot, lambda: decoded(ed), what="the edit's decode")
    assert time.monotonic() - t0 < 2.0
    assert sound.audition.partial and (sound.audition.codes == ed.ws.grid(ed.ws.a).codes).all()


@aio
async def test_an_edit_during_the_idle_full_decode_does_not_wait_for_it(app_factory, monkeypatch):
    """The idle full decode of a 3-minute sound takes about 10 s, and an edit made meanwhile waited for all of it
    (found by hand: the status line's "decode 214 ms" did not move for edit after edit). That decode gives way at
    its next chunk now; the edit is re-decoded from the partial decodes, and the full decode comes at the next pause.
    Here every chunk of a short sound's full decode takes 0.4 s: 5 s in all."""
    import threading
    import time

    monkeypatch.setattr(editor_module, "IDLE_FULL_DECODE_S", 0.2)
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready_with_both_decoded(pilot, app)
        ed = app.editor
        codec = ed.engine.codec
        chunked = codec.griffin_lim_by_chunks
        started = threading.Event()

        def slowly(db, scale, iters, bounds, step=lambda: None, between=None):  # noqa: ANN001, ANN202
            def slow_step() -> None:
                started.set()
                time.sleep(0.4)
                step()

            return chunked(db, scale, iters, bounds, slow_step, between=between)

        monkeypatch.setattr(codec, "chunk_positions", lambda: 2)  # many chunks
        monkeypatch.setattr(codec, "griffin_lim_by_chunks", slowly)
        assert len(codec.chunk_bounds(ed.ws.grid(ed.ws.a).positions)) >= 10
        await edit_during_the_idle_decode(pilot, ed, started)
        # an edit of another sound does not wait either, and the sound it interrupted is decoded after a pause
        name = ed.ws.a
        started.clear()
        await until(pilot, started.is_set, what="the idle full decode again")
        await pilot.press("o")  # B becomes the grid being edited
        assert ed.ws.a != name
        t0 = time.monotonic()
        await pilot.press("i", "3", "3", "escape")
        await until(pilot, lambda: decoded(ed), what="B's edit decoded")
        assert time.monotonic() - t0 < 2.0
        first = ed.ws.sounds[name]
        await until(pilot, lambda: decoded(ed, name) and not first.audition.partial, timeout=90,
                    what="the interrupted sound's full decode, after a pause")


@aio
async def test_an_edit_during_the_idle_full_decode_of_a_short_sound_does_not_wait_for_it(app_factory, monkeypatch):
    """A sound shorter than a decode chunk (30 s) is decoded in one chunk, and the idle full decode gave way only
    between chunks: an edit made during it waited for all of its Griffin-Lim (1.3 s for 25 s of audio). It gives
    way between iterations now. Here each iteration of a full decode takes 0.2 s: 5.6 s for the 28."""
    import threading
    import time

    from distill_tui.inference import codec as codec_module

    monkeypatch.setattr(editor_module, "IDLE_FULL_DECODE_S", 0.2)
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready_with_both_decoded(pilot, app)
        ed = app.editor
        real = codec_module.griffin_lim
        started = threading.Event()

        def slow(*args, between=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            def each() -> None:
                started.set()
                time.sleep(0.2)
                if between is not None:
                    between()

            return real(*args, between=each, **kwargs)

        monkeypatch.setattr(codec_module, "griffin_lim", slow)  # full decodes only: partial ones are audition's
        assert ed.engine.codec.chunk_bounds(ed.ws.grid(ed.ws.a).positions) is None  # one chunk
        await edit_during_the_idle_decode(pilot, ed, started)


@aio
async def test_ab_swap_and_undo_restores_both(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        a, b = ed.ws.grid("pluck_a2"), ed.ws.grid("bell_g4")
        a0, b0 = a.codes.copy(), b.codes.copy()
        await pilot.press("v", "3", "l", "j", "x")
        assert (a.codes[0:2, 0:4] == b0[0:2, 0:4]).all() and (b.codes[0:2, 0:4] == a0[0:2, 0:4]).all()
        assert ed.ws.dirty("pluck_a2") and ed.ws.dirty("bell_g4")
        await pilot.press("u")
        assert (a.codes == a0).all() and (b.codes == b0).all()
        await pilot.press("o")  # B becomes the grid being edited
        assert ed.ws.a == "bell_g4" and ed.grid.doc is b
        await pilot.press("right_square_bracket")
        assert ed.ws.a != "bell_g4"


@aio
async def test_nudge_follows_the_perceptual_order_and_randomize(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        grid = ed.ws.grid(ed.ws.a)
        order = ed.engine.order[0]
        code = int(grid.codes[0, 0])
        rank = int(np.flatnonzero(order == code)[0])
        await pilot.press("plus")
        assert grid.codes[0, 0] == order[min(rank + 1, len(order) - 1)]
        before = grid.codes.copy()
        await pilot.press("V", "r")
        assert not (grid.codes[0] == before[0]).all() and (grid.codes[1:] == before[1:]).all()
        await pilot.press("u")
        assert (grid.codes == before).all()


@aio
async def test_regenerate_and_generate_with_the_prior(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        assert ed.engine.prior is not None, ed.engine.prior_error
        grid = ed.ws.grid(ed.ws.a)
        before = grid.codes.copy()
        await pilot.press("4", "l", "v", "5", "l", "j", "R")
        await until(pilot, lambda: ed.ws.session.history.can_undo, what="the regenerated region")
        changed = np.argwhere(grid.codes != before)
        assert len(changed) and changed[:, 0].max() <= 1 and 4 <= changed[:, 1].min() and changed[:, 1].max() <= 9
        names = set(ed.ws.sounds)
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(ed.ws.sounds) == len(names) + 1, what="the generated sound")
        new = (set(ed.ws.sounds) - names).pop()
        assert ed.ws.a == new and ed.ws.dirty(new)  # a generated sound exists on no disk yet
        assert new == "generated" and ed.ws.grid(new).source["seed"] is not None  # not "generated-1005777560"
        assert ed.ws.grid(new).seconds == pytest.approx(2.0, abs=0.1)
        await pilot.pause()
        assert "generating" not in ed.message and ed.message.startswith("generated 2.0 s (seed ")  # not stuck


@aio
async def test_without_a_prior_sampling_says_why(app_factory, loaded_engine, monkeypatch):
    monkeypatch.setattr(loaded_engine, "prior", None)
    monkeypatch.setattr(loaded_engine, "prior_error", NO_PRIOR_YET)
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        before = app.editor.ws.grid(app.editor.ws.a).codes.copy()
        await pilot.press("v", "l", "R", "ctrl+g")
        await pilot.pause()
        messages = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert messages.count("no prior yet") >= 2 and "Train the prior…" in messages
        assert (app.editor.ws.grid(app.editor.ws.a).codes == before).all() and len(app.editor.ws.sounds) == 2


@aio
async def test_save_export_and_quit_with_unsaved_edits(app_factory, tmp_path: Path):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        await pilot.press("i", "2", "a", "escape")
        assert ed.ws.dirty("pluck_a2")
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, UnsavedScreen)
        await pilot.press("escape")  # cancel: stay
        assert app.is_running and not isinstance(app.screen, UnsavedScreen)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")
        saved = tmp_path / "pluck_a2.codes.json"
        assert saved.exists() and not ed.ws.dirty("pluck_a2")
        assert json.loads(saved.read_text())["codes"][0][0] == 0x2A
        # where the model is, so `play` and `open` of this file find it from any folder
        assert json.loads(saved.read_text())["source"]["model_file"] == str(ed.engine.path.absolute())
        await until(pilot, lambda: decoded(ed), what="decoding before the export")
        await pilot.press("e")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "pluck_a2.wav").exists(), what="the exported WAV")
        await app.workers.wait_for_complete()
        assert (tmp_path / "pluck_a2.codes.json").exists()
        heard = ed.ws.sound("pluck_a2").audition.audio  # what space plays
        written, _ = sf.read(tmp_path / "pluck_a2.wav", dtype="float32")
        assert abs(20 * np.log10(np.abs(written).max() / np.abs(heard).max())) < 0.01  # the same level, not -1 dBFS
        await pilot.press("i", "3", "b", "escape", "ctrl+q")
        assert isinstance(app.screen, UnsavedScreen)
        await pilot.press("d")  # discard, and quit
        await pilot.pause()
    assert not app.is_running


@aio
async def test_an_export_after_edits_writes_a_full_decode_not_the_chained_partial_ones(app_factory, tmp_path: Path):
    app, _ = app_factory()  # no idle full decode: the sound is heard from chained partial re-decodes
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        sound = ed.ws.sounds[ed.ws.a]
        for keys in (("3", "l", "i", "1", "1", "escape"), ("4", "l", "i", "2", "2", "escape"), ("j", "i", "0", "5", "escape")):
            await pilot.press(*keys)
            await until(pilot, lambda: decoded(ed), what="an edit's decode")
        assert sound.audition.partial
        chained = sound.audition.audio.copy()
        await pilot.press("e")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "pluck_a2.wav").exists(), what="the exported WAV")
        await app.workers.wait_for_complete()
        full = ed.engine.decode(ed.ws.grid(ed.ws.a), set(sound.muted)).audio  # what `distill-tui decode` writes
        written, _ = sf.read(tmp_path / "pluck_a2.wav", dtype="float32")
        assert written.shape == full.shape
        assert np.abs(written - full).max() < 1e-4  # 16-bit rounding
        assert np.abs(chained - full).max() > 1e-3  # so the chained audio would not have passed
        assert not sound.audition.partial  # and space now plays that full decode too


@aio
async def test_ctrl_s_asks_before_overwriting_a_codes_file_changed_on_disk(app_factory, loaded_engine, tmp_path: Path):
    codes = tmp_path / "pluck.codes.json"
    loaded_engine.encode(A_SOUND).save(codes)
    app, _ = app_factory(codes, B_SOUND)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        assert ed.ws.codes_path(ed.ws.a) == codes
        await pilot.press("i", "2", "a", "escape")
        theirs = json.loads(codes.read_text())  # another program rewrites the file meanwhile
        theirs["codes"][0][0] = 0x11
        codes.write_text(json.dumps(theirs) + "\n")
        stat = codes.stat()
        os.utime(codes, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
        written = codes.read_text()
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ConfirmScreen)
        assert "pluck.codes.json changed on disk since you opened it: overwrite?" in app.screen.question
        await pilot.press("n")  # keep their file
        assert codes.read_text() == written and ed.ws.dirty(ed.ws.a)
        await pilot.press("ctrl+s", "y")  # overwrite it
        assert json.loads(codes.read_text())["codes"][0][0] == 0x2A and not ed.ws.dirty(ed.ws.a)
        await pilot.press("i", "3", "b", "escape", "ctrl+s")  # unchanged on disk since our save: no question
        assert not isinstance(app.screen, ConfirmScreen)
        assert json.loads(codes.read_text())["codes"][0][1] == 0x3B and not ed.ws.dirty(ed.ws.a)


@aio
async def test_help_palette_and_theme(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(help_table(app.user_keymap))
        text = console.export_text()
        for words in ("editor.play", "play/stop", "grid.first_level", "ctrl+r", "type a code in hex"):
            assert words in text
        await pilot.press("escape", "colon")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"
        commands = {c.title for c in app.get_system_commands(app.editor)}
        for title in ("Blend toward B…", "Take levels from B", "Repeat selection…", "Reverse selection",
                      "Paste template…", "Continue with the prior…", "Export WAV…", "Theme"):
            assert title in commands
        await pilot.press("escape")
        app.theme = "distill-light"
        await pilot.pause()
        assert app.editor.grid.colours.code_palette == "cividis"


@aio
async def test_palette_operations_reverse_and_take_levels(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        a, b = ed.ws.grid("pluck_a2"), ed.ws.grid("bell_g4")
        before = a.codes.copy()
        await pilot.press("v", "5", "l")
        run = {c.title: c.callback for c in app.get_system_commands(ed)}
        run["Reverse selection"]()
        assert (a.codes[0, 0:6] == before[0, 0:6][::-1]).all()
        await pilot.press("j", "V")
        run = {c.title: c.callback for c in app.get_system_commands(ed)}
        run["Take levels from B"]()
        assert not (a.codes[1] == before[1]).all() and (a.codes[2:] == before[2:]).all()
        assert set(np.unique(a.codes[1])) <= set(np.unique(b.codes[1]))


@aio
async def test_bad_inputs_are_notified_and_the_app_keeps_running(app_factory, tmp_path: Path, demo: Path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wav")
    other = tmp_path / "other.codes.json"
    grid = CodeGrid(codes=np.zeros((4, 10), dtype=np.int64), model_fingerprint="ffff0000", codebook_sizes=[64] * 4,
                    sample_rate=22050, hop_length=256, stride=4, name="other")
    grid.save(other)
    app, _ = app_factory(A_SOUND, broken, other)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app._notifications) >= 2, what="two notifications")  # noqa: SLF001
        messages = " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert "broken.wav" in messages and "another model" in messages
        assert list(app.editor.ws.sounds) == ["pluck_a2"] and app.is_running

    missing = tmp_path / "missing.distill"
    app, _ = app_factory(A_SOUND, model=missing)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app._notifications) >= 1, what="the model error")  # noqa: SLF001
        assert "missing.distill" in " ".join(n.message for n in app._notifications)  # noqa: SLF001
        assert app.editor.engine is None and app.is_running
        await pilot.press("l", "i", "0", "escape", "space")  # keys do nothing harmful without a model
        assert app.is_running

    truncated = tmp_path / "truncated.distill"
    truncated.write_bytes(demo.read_bytes()[:1000])
    app, _ = app_factory(A_SOUND, model=truncated)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app._notifications) >= 1, what="the model error")  # noqa: SLF001
        assert app.is_running


def test_open_command_is_registered_and_light():
    from distill_tui.cli import build_parser

    args = build_parser().parse_args(["open", str(DEMO_MODEL), str(A_SOUND)])
    assert args.model == DEMO_MODEL and args.audio == [A_SOUND]
    code = ("import sys, distill_tui.cli as c; c.build_parser(); "
            "print(sorted(m for m in ('torch', 'textual') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # `distill-tui --help` stays fast
    code = "import sys, distill_tui.tui.app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # the editor paints before it imports torch (in a worker)


@aio
async def test_toasts_are_plain_text_so_install_hints_keep_their_extras(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.editor.notify("sounddevice is not installed (pip install 'distill-tui[audio]')", severity="warning")
        await pilot.pause()
        shown = list(app._notifications)  # noqa: SLF001 - Textual keeps no public list of toasts
        assert shown and all(not n.markup for n in shown)
        assert any("distill-tui[audio]" in str(n.message) for n in shown)


@aio
async def test_keys_still_move_the_cursor_after_a_tiny_terminal_and_back(app_factory):
    """Issue: shrink below 60x16 and back, and h/j/k/l went dead (the grid had lost focus, nothing said so)."""
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        grid = app.editor.grid
        await pilot.press("l")
        assert grid.pos == 1
        await pilot.resize_terminal(50, 14)
        await pilot.pause()
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        await pilot.press("l")
        assert app.focused is grid and grid.pos == 2


@aio
async def test_tab_never_lands_on_the_side_panels_container(app_factory):
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id != "side"
        assert app.editor.query_one("#side").can_focus is False


@aio
async def test_region_operations_without_a_selection_say_select_first(app_factory):
    """Issue: Blend toward B said "blended 0.5 toward B" and changed nothing; Fill Euclidean rhythm wrote one cell."""
    app, _ = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        ed = app.editor
        before = ed.ws.grid(ed.ws.a).codes.copy()
        run = {c.title: c.callback for c in app.get_system_commands(ed)}
        for title in ("Fill Euclidean rhythm…", "Blend toward B…", "Reverse selection", "Delete selected columns"):
            run[title]()
            await pilot.pause()
            assert not isinstance(app.screen, PromptScreen), title  # refused before asking for a value
        assert (ed.ws.grid(ed.ws.a).codes == before).all()
        said = [str(n.message) for n in app._notifications]  # noqa: SLF001
        assert sum("select first" in m for m in said) == 4


@aio
async def test_the_status_line_counts_the_sounds_of_a_folder_as_they_open(app_factory, tmp_path: Path, monkeypatch):
    """`open MODEL FOLDER` with 200 sounds showed nothing for the minute they took to encode; now the status
    line counts them ("opening sounds: 3 of 6"), then says how many opened and how many could not."""
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    sounds = sorted(DEMO_SOUNDS.glob("*.wav"))[:5]
    said: list[str] = []
    set_message = editor_module.EditorScreen.set_message
    monkeypatch.setattr(editor_module.EditorScreen, "set_message", lambda ed, text: said.append(text) or set_message(ed, text))
    app, _ = app_factory(*sounds[:3], broken, *sounds[3:])
    async with app.run_test(size=SIZE) as pilot:
        ed = app.editor
        await until(pilot, lambda: len(ed.ws.sounds) == 5 and not ed.opening.pending, what="the five sounds and the broken one")
        assert ed.message == "5 sounds open; 1 could not be read: broken.wav"
        counts = [m for m in said if m.startswith("opening sounds: ")]
        assert counts == [f"opening sounds: {n} of 6" for n in range(1, 6)], said


@aio
async def test_a_folder_of_sounds_opens_without_redrawing_the_list_per_sound(app_factory, tmp_path: Path, monkeypatch):
    """Issue: 200 sounds took 26 s to open, 17 s of them the sound list being rebuilt an option at a time once
    per sound. The panels are now redrawn a few times a second while a folder opens, and once at its end."""
    import shutil

    from distill_tui.tui.widgets.slots import SlotsPanel

    folder = tmp_path / "kit"
    folder.mkdir()
    files = []
    for i in range(30):  # the same bytes under 30 names: the codes cache hands out 29 of them at once
        files.append(folder / f"hit{i:02d}.wav")
        shutil.copy(A_SOUND, files[-1])
    shown: list[int] = []
    show = SlotsPanel.show
    monkeypatch.setattr(SlotsPanel, "show", lambda panel, rows: shown.append(len(rows)) or show(panel, rows))
    app, _ = app_factory(*files)
    async with app.run_test(size=SIZE) as pilot:
        ed = app.editor
        await until(pilot, lambda: len(ed.ws.sounds) == 30 and not ed.opening.pending, what="the 30 sounds")
        await pilot.pause(0.4)  # the last redraw
        await pilot.pause()
        assert shown[-1] == 30 and len(shown) <= 10, shown  # not once per sound
        names = [str(o.prompt).split()[-1] for o in ed.query_one("#sound-list").options]
        assert names == [f.stem for f in files]
        assert ed.ws.a == "hit00"

    # again: now the codes cache hands out all 30 before the model has loaded, and the model's arrival kept
    # the count off the status line ("model demo.distill loaded" alone)
    app, _ = app_factory(*files)
    async with app.run_test(size=SIZE) as pilot:
        ed = app.editor
        await until(pilot, lambda: ed.engine is not None and not ed.opening.pending, what="the model and sounds")
        assert ed.message == "model demo.distill loaded; 30 sounds open"


@aio
async def test_long_sound_names_take_one_line_each_and_stay_told_apart(app_factory, tmp_path: Path):
    """Issue: a 100-character sample name took four lines of the A/B header and of the sound list (each read as
    several sounds), and the title line showed "A:" with the name wrapped out of sight."""
    import shutil

    from distill_tui.tui.editor_panels import TITLE_NAME
    from distill_tui.tui.widgets.slots import SlotsPanel, SoundList

    names = [f"a_really_long_sample_name_from_some_sample_pack_vol_{i}_processed_with_reverb_and_delay_final"
             for i in (1, 2, 3)]
    files = []
    for name in names:
        files.append(tmp_path / f"{name}.wav")
        shutil.copy(A_SOUND, files[-1])
    for size in ((120, 36), (80, 24)):
        app, _ = app_factory(*files)
        async with app.run_test(size=size) as pilot:
            ed = app.editor
            await until(pilot, lambda ed=ed: len(ed.ws.sounds) == 3, what="the three sounds")
            if size[0] < 100:
                await pilot.press("t")  # the side panels are tabs: Cell, then Sounds
            await pilot.pause(0.4)
            lst = ed.query_one(SoundList)
            prompts = [str(o.prompt) for o in lst.options]
            assert lst.virtual_size.height == lst.option_count == 3, (size, prompts)
            assert all(f"vol_{i}" in p for i, p in zip((1, 2, 3), prompts, strict=True)), prompts
            header = str(ed.query_one(SlotsPanel).query_one("#slots-ab").content)
            assert len(header.splitlines()) == 2 and "vol_1" in header and "vol_2" in header, header
            title = str(ed.query_one("#title").content)
            slots = [part for part in title.split(" │ ") if part[:3] in ("A: ", "B: ")]
            assert "vol_1" in slots[0] and all(len(part) <= 3 + TITLE_NAME for part in slots), title


@aio
async def test_a_sound_keeps_its_own_name_spaces_and_all(app_factory, tmp_path: Path):
    """"Long mix — take 2.wav" was shown (and exported) as "Long_mix_—_take_2"; the CLI's vary keeps the name."""
    import shutil

    path = tmp_path / "Long mix — take 2.wav"
    shutil.copy(A_SOUND, path)
    app, _ = app_factory(path)
    async with app.run_test(size=SIZE) as pilot:
        ed = app.editor
        await until(pilot, lambda: len(ed.ws.sounds) == 1, what="the sound")
        assert ed.ws.a == "Long mix — take 2"
        await pilot.pause(0.3)
        assert "A: Long mix — take 2" in str(ed.query_one("#title").content)


@aio
async def test_opening_a_sound_that_is_open_already_shows_it(app_factory):
    """Open sound… on a file already open made a second copy, "pluck_a2-2", whose edits went apart from the first's."""
    from distill_tui.tui import commands
    from distill_tui.tui.screens.file_picker import FilePickerScreen, PathPicker

    app, _ = app_factory(A_SOUND, B_SOUND)
    async with app.run_test(size=SIZE) as pilot:
        ed = app.editor
        await until(pilot, lambda: len(ed.ws.sounds) == 2, what="the two sounds")
        ed.put_in_slot("A", "bell_g4")
        await pilot.press("i", "0", "5")  # an edit of bell_g4, not saved
        await pilot.press("escape")
        edited = ed.ws.grid("bell_g4").codes.copy()
        ed.put_in_slot("A", "pluck_a2")
        next(c for c in commands.COMMANDS if c.title == "Open sound or codes file…").run(ed)
        await pilot.pause()
        assert isinstance(app.screen, FilePickerScreen)
        app.screen.query_one(PathPicker).input.value = str(B_SOUND)
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert sorted(ed.ws.sounds) == ["bell_g4", "pluck_a2"] and ed.ws.a == "bell_g4"
        assert np.array_equal(ed.ws.grid("bell_g4").codes, edited)  # as it was left, the edit kept


@aio
async def test_a_sound_opened_from_the_dialog_is_said_and_the_old_count_goes(app_factory, tmp_path):
    """Found in tmux: after Open sound… the status line still said "model … loaded; 13 sounds open" (14 were)."""
    from distill_tui.tui import commands
    from distill_tui.tui.screens.file_picker import FilePickerScreen, PathPicker

    app, _ = app_factory(A_SOUND, B_SOUND)
    async with app.run_test(size=SIZE) as pilot:
        ed = app.editor
        await ready(pilot, app)
        assert "2 sounds open" in ed.message
        third = tmp_path / "third.wav"
        third.write_bytes(B_SOUND.read_bytes())
        next(c for c in commands.COMMANDS if c.title == "Open sound or codes file…").run(ed)
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen) and app.screen.query(PathPicker),
                    what="the file dialog")
        app.screen.query_one(PathPicker).input.value = str(third)
        await pilot.press("enter")
        await until(pilot, lambda: "third" in ed.ws.sounds, what="the third sound")
        await pilot.pause()
        assert ed.ws.a == "third" and ed.message == "third opened in A"


@aio
async def test_a_sound_opened_again_is_said_whole_at_80_columns(app_factory):
    """Found in tmux at 80 x 24: opening an open sound again said "bell_choir01 is open already: it is in A, as…",
    the status line cut before the words that matter (its edits are kept)."""
    from distill_tui.tui import commands
    from distill_tui.tui.screens.file_picker import FilePickerScreen, PathPicker

    app, _ = app_factory(A_SOUND, B_SOUND)
    async with app.run_test(size=(80, 24)) as pilot:
        ed = app.editor
        await ready(pilot, app)
        name = ed.ws.opened_from(B_SOUND)
        next(c for c in commands.COMMANDS if c.title == "Open sound or codes file…").run(ed)
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen) and app.screen.query(PathPicker),
                    what="the file dialog")
        app.screen.query_one(PathPicker).input.value = str(B_SOUND)
        await pilot.press("enter")
        await until(pilot, lambda: ed.ws.a == name, what="the open sound in A")
        await pilot.pause()
        status = "\n".join(s.text for s in app.screen._compositor.render_strips()).splitlines()[-2]  # noqa: SLF001
        assert "as you left it" in ed.message and ed.message in status, status


def test_the_count_of_open_sounds_is_said_in_words():
    """Opening a missing file beside one sound said "1 sounds open; 1 could not be read: nope.wav"."""
    from distill_tui.tui.loading import OpenProgress

    opening = OpenProgress.of([Path("/x/nope.wav"), Path("/x/clap.ogg")])
    assert opening.arrived("/x/nope.wav", ok=False) == "opening sounds: 1 of 2"
    assert opening.arrived(Path("/x/other.wav")) is None  # not one of them
    assert opening.arrived(Path("/x/clap.ogg")) == "1 sound open; 1 could not be read: nope.wav"
    assert OpenProgress.of([Path("a.wav")]).arrived("a.wav") is None  # one sound: nothing to count



@aio
async def test_another_models_codes_offer_to_open_that_model(app_factory, tiny_model: Path, tmp_path: Path):
    """Opening a codes file another model made said only "codes were made by another model (fingerprint …, this
    model is …)": the musician had to find which model file that was. The file names its model now (or the model
    is beside it), and the editor offers to open that model with it."""
    from distill_tui.inference.codec import load_codec
    from distill_tui.persistence.model_of_codes import note_model

    grid = load_codec(tiny_model).encode_samples(synth("pluck", 0.5), name="take")
    note_model(grid.source, tiny_model)
    take = grid.save(tmp_path / "take.codes.json")
    app, _ = app_factory(A_SOUND, take)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer")
        await pilot.pause()
        assert f"take.codes.json was made by {tiny_model.name}" in str(app.screen.query_one("#question").content)
        await pilot.press("y")
        ed = app.editor
        await until(pilot, lambda: ed.engine is not None and ed.engine.path == tiny_model and "take" in ed.ws.sounds,
                    what="the other model, with the codes file")
        assert list(ed.ws.sounds) == ["take"]


@aio
async def test_a_model_without_sounds_says_how_to_get_one(app_factory, demo: Path):
    """It said "no sound: : then 'Open' or generate one": two colons, and no 'Open' command by that name."""
    app = DistillApp(demo, [], router=RecordingRouter())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.editor.engine is not None, what="the demo model")
        placeholder = app.editor.grid.placeholder
        assert placeholder == "no sound yet: ':' to open one, ctrl+g to generate one"
        await pilot.press("colon")
        await pilot.pause()
        await pilot.press(*"open sound")
        await pilot.pause(0.3)
        assert "Open sound or codes file…" in "\n".join(s.text for s in app.screen._compositor.render_strips())  # noqa: SLF001
