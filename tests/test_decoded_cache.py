"""The decoded-audio cache: a sound opened unedited plays its last full decode before torch loads; an edited
grid, a muted level or another model never hears it (audio/decoded_cache.py, tui/decode_queue.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from distill_tui.audio.decoded_cache import (
    CachedAudition,
    DecodedAudioCache,
    DecodeKey,
    decoded_length,
    entry_name,
)
from distill_tui.codes.cache import ModelKey
from distill_tui.codes.edits import SetCell
from distill_tui.codes.grid import CodeGrid
from distill_tui.persistence.header import read_header_document
from distill_tui.tui.decode_queue import DecodeQueue
from distill_tui.tui.loading import Loader, decode_key
from distill_tui.tui.messages import AuditionReady
from distill_tui.tui.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "samples" / "demo.distill"
SOUNDS = ROOT / "samples" / "sounds"
MODEL = ModelKey.of("0123456789abcdef", [16, 16], {"spectrogram": {"n_fft": 1024}, "model": {"levels": 2}})
KEY = DecodeKey(MODEL, 32, 40.0)


def grid_for(positions: int = 12, seed: int = 0, name: str = "x", **source: float) -> CodeGrid:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, k, positions) for k in MODEL.codebook_sizes])  # (Q, P)
    src = {"samples": positions * 1024 - 300, "ref_db": 10.0, "gain_db": -1.0, **source}
    return CodeGrid(codes, MODEL.fingerprint, list(MODEL.codebook_sizes), 22050, 256, 4, name=name, source=src)


def audio_for(grid: CodeGrid, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, decoded_length(grid)).astype(np.float32)  # (N,)


def test_a_stored_decode_comes_back_exactly_for_the_same_grid(tmp_path):
    cache = DecodedAudioCache(tmp_path / "decoded")
    grid = grid_for()
    audio = audio_for(grid)
    assert cache.audition(KEY, grid) is None
    assert cache.store(KEY, grid, (), audio)
    got = cache.audition(KEY, grid.copy())
    assert isinstance(got, CachedAudition) and np.array_equal(got.audio, audio) and got.audio.dtype == np.float32
    assert np.array_equal(got.codes, grid.codes) and got.muted == () and not got.partial and got.db is None
    entry = next(cache.folder.rglob("*.npy"))
    inode = entry.stat().st_ino
    assert cache.store(KEY, grid, (), audio) and entry.stat().st_ino == inode  # kept, not written again
    entry.write_bytes(b"x" * entry.stat().st_size)  # damaged: the next store replaces it
    assert cache.audition(KEY, grid) is None and cache.store(KEY, grid, (), audio)
    assert cache.audition(KEY, grid) is not None


def test_an_edited_grid_or_other_settings_miss(tmp_path):
    cache = DecodedAudioCache(tmp_path / "decoded")
    grid = grid_for()
    cache.store(KEY, grid, (), audio_for(grid))
    edited = grid.copy()
    edited.codes[1, 5] = (edited.codes[1, 5] + 1) % 16  # one cell
    louder = grid_for(gain_db=2.0)
    other_model = DecodeKey(ModelKey("fedcba9876543210", MODEL.codebook_sizes, MODEL.settings), 32, 40.0)
    for key, g, muted in [(KEY, edited, ()), (KEY, grid, (1,)), (KEY, louder, ()),
                          (DecodeKey(MODEL, 16, 40.0), grid, ()), (DecodeKey(MODEL, 32, 30.0), grid, ()),
                          (other_model, grid, ())]:
        assert cache.audition(key, g, muted) is None
    assert len({entry_name(KEY, g, m) for g, m in [(grid, ()), (edited, ()), (grid, (1,)), (louder, ())]}) == 4
    assert cache.audition(KEY, grid) is not None


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "float64", "shorter", "nan", "pickle"])
def test_a_damaged_entry_is_a_miss_not_an_error(tmp_path, damage):
    cache = DecodedAudioCache(tmp_path / "decoded")
    grid = grid_for()
    audio = audio_for(grid)
    cache.store(KEY, grid, (), audio)
    entry = next(cache.folder.rglob("*.npy"))
    if damage == "garbage":
        entry.write_bytes(b"\x93NUMPY" + b"\xff" * 300)
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:-100])
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "float64":
        np.save(entry, audio.astype(np.float64))
    elif damage == "shorter":
        np.save(entry, audio[:-1])
    elif damage == "nan":
        audio[3] = np.nan
        np.save(entry, audio)
    elif damage == "pickle":
        np.save(entry, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    assert cache.audition(KEY, grid) is None


def test_only_the_length_a_grid_decodes_to_is_kept(tmp_path, monkeypatch):
    import distill_tui.audio.decoded_cache as dc

    cache = DecodedAudioCache(tmp_path / "decoded")
    grid = grid_for()
    monkeypatch.setattr(dc, "MAX_ENTRY_SAMPLES", decoded_length(grid) - 1)
    assert not cache.store(KEY, grid, (), audio_for(grid))  # too long to read on the UI thread
    monkeypatch.undo()
    assert not cache.store(KEY, grid, (), audio_for(grid)[:-1])
    assert not cache.store(KEY, grid_for(name="y"), (), np.zeros(3, np.float32))
    assert not any(cache.folder.rglob("*.npy"))
    no_source = CodeGrid(grid.codes, MODEL.fingerprint, list(MODEL.codebook_sizes), 22050, 256, 4)
    assert decoded_length(no_source) == (12 * 4 - 1) * 256
    assert cache.store(KEY, no_source, (), np.zeros(decoded_length(no_source), np.float32))


def test_an_unwritable_folder_only_costs_the_entry(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = DecodedAudioCache(blocker / "decoded")
    grid = grid_for()
    assert not cache.store(KEY, grid, (), audio_for(grid))
    assert cache.audition(KEY, grid) is None


# ---- the decode queue: before the model, the cache answers; an edit misses


class Host:
    """Takes the editor's place for the decode queue: keeps what it is sent, runs no worker."""

    def __init__(self) -> None:
        self.messages: list = []
        self.workers_started = 0

    def post_message(self, message) -> bool:  # noqa: ANN001
        self.messages.append(message)
        return True

    def run_worker(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        self.workers_started += 1

    def set_timer(self, *args) -> None:  # noqa: ANN002
        pass

    def set_message(self, text: str) -> None:
        self.said = text


def queue_with(tmp_path: Path, grid: CodeGrid) -> tuple[DecodeQueue, Host, str]:
    host, ws = Host(), Workspace()
    queue = DecodeQueue(host, ws, idle_full_decode_s=2.0, audio_cache=DecodedAudioCache(tmp_path / "decoded"))  # type: ignore[arg-type]
    name = ws.add(grid, audio_path=tmp_path / "x.wav").name
    return queue, host, name


def test_before_the_model_a_cached_decode_is_stored_and_an_edited_grid_is_not(tmp_path):
    grid = grid_for()
    audio = audio_for(grid)
    queue, host, name = queue_with(tmp_path, grid)
    queue.audio_cache.store(KEY, grid, (), audio)
    queue.request(name)
    assert not host.messages  # no key yet: the loader has not said which model
    queue.expect(KEY)
    queue.request(name)
    (ready,) = host.messages
    assert isinstance(ready, AuditionReady) and ready.name == name and np.array_equal(ready.audition.audio, audio)
    assert queue.is_current(name) and queue.last_decode_ms is None and host.workers_started == 0

    ws = queue.ws
    ws.apply(SetCell(level=0, position=3, code=(int(ws.grid(name).codes[0, 3]) + 1) % 16), name)
    assert not queue.is_current(name)
    queue.request(name)
    assert len(host.messages) == 1 and not queue.is_current(name)  # the cached decode is of another grid
    ws.set_muted(name, {1})
    queue.request(name)
    assert len(host.messages) == 1 and host.workers_started == 0


def test_once_the_model_is_there_a_cached_decode_is_decoded_afresh_and_new_decodes_are_kept(tmp_path):
    grid = grid_for()
    queue, host, name = queue_with(tmp_path, grid)
    queue.audio_cache.store(KEY, grid, (), audio_for(grid))
    queue.expect(KEY)
    queue.request(name)
    assert isinstance(queue.ws.sound(name).audition, CachedAudition)
    doc = SimpleNamespace()  # not a ModelDocument: nothing is kept for it
    queue.engine = SimpleNamespace(doc=doc, auditioner=SimpleNamespace(iters=32))
    assert host.workers_started == 1 and not queue.is_current(name)  # decoded afresh; space waits for that
    job = queue._next_job()
    assert job is not None and job.previous is None and job.keep  # a full decode, never partial from the cache
    full = SimpleNamespace(audio=audio_for(grid, seed=5), partial=False, seconds=0.1)
    queue._keep(queue.engine, job, full)
    assert len(list(queue.audio_cache.folder.rglob("*.npy"))) == 1  # only the first entry


@pytest.mark.skipif(not DEMO.exists(), reason="the bundled demo model samples/demo.distill is missing")
def test_the_loader_tells_the_queue_the_models_key_before_any_grid(tmp_path):
    events: list = []

    class Decoder:
        audio_cache = None

        def expect(self, key) -> None:  # noqa: ANN001
            events.append(key)

    class LoaderHost:
        def post_message(self, message) -> bool:  # noqa: ANN001
            events.append(message)
            return True

    loader = Loader(LoaderHost(), decoder=Decoder())  # type: ignore[arg-type]
    loader._show_cached(DEMO, [SOUNDS / "pad_am.wav"])
    doc = read_header_document(DEMO)
    assert events[0] == decode_key(doc) and events[0].iters == doc.spectrogram.griffin_lim_iters
    loader._show_cached(tmp_path / "no such.distill", [])
    assert events[-1] is None


PLAYED_BEFORE_TORCH = """
import asyncio, sys, threading, time
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[3])
from test_tui_support import RecordingRouter
from distill_tui.audio.decoded_cache import CachedAudition
from distill_tui.inference import session
from distill_tui.tui.app import DistillApp

demo, sound, phase = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[4]
out = Path(sys.argv[5])
go = threading.Event()
real_load = session.InferenceSession.load.__func__
def held_load(cls, path):
    go.wait(120)  # the model loads only once the test lets it
    return real_load(cls, path)
if phase == "play":
    session.InferenceSession.load = classmethod(held_load)
else:
    go.set()

async def until(pilot, cond, what, timeout=120):
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out: " + what
        await pilot.pause(0.02)

async def main():
    router = RecordingRouter()
    app = DistillApp(demo, [sound], router=router, theme_dirs=[])
    async with app.run_test(size=(100, 30)) as pilot:
        ed = app.editor
        await until(pilot, lambda: ed.ws.a is not None, "the grid")
        sound_state = ed.ws.sounds[ed.ws.a]
        if phase == "fill":  # a real decode, kept in the cache by the worker
            await until(pilot, lambda: sound_state.audition is not None, "the decode")
            await until(pilot, lambda: any(Path(sys.argv[6]).rglob("*.npy")), "the cache entry")
            np.save(out, sound_state.audition.audio)
            print("ok")
            return
        await pilot.press("space")
        await until(pilot, lambda: len(router.played) == 1, "the cached sound to play", 30)
        assert "torch" not in sys.modules, "torch was imported before the first sound"
        assert isinstance(sound_state.audition, CachedAudition)
        assert np.array_equal(router.played[0][0], np.load(out)), "not the decode the first launch made"
        assert ed.spectrogram.placeholder == "decoding…"  # no picture before the model: it says so
        await until(pilot, lambda: not ed.playing, "the end of the sound")
        before = ed.ws.grid(ed.ws.a).codes.copy()
        code = (int(before[0, 0]) + 1) % ed.ws.grid(ed.ws.a).codebook_sizes[0]
        await pilot.press("i", *f"{code:02x}", "escape")
        assert ed.ws.grid(ed.ws.a).codes[0, 0] == code, "the edit did not land"
        await pilot.press("space")
        await pilot.pause(1.0)
        assert len(router.played) == 1, "an edited grid played the cached decode"
        go.set()
        await until(pilot, lambda: len(router.played) == 2, "the edited sound to play")
        edited = router.played[1][0]
        assert not isinstance(sound_state.audition, CachedAudition)
        assert np.array_equal(edited, sound_state.audition.audio) and not np.array_equal(edited, np.load(out))
        assert np.array_equal(sound_state.audition.codes[0, :1], [code])
    print("ok")

asyncio.run(main())
"""


@pytest.mark.skipif(not DEMO.exists(), reason="the bundled demo model samples/demo.distill is missing")
def test_space_plays_the_last_decode_before_torch_and_an_edit_waits_for_the_model(tmp_path):
    import os

    cache, out = tmp_path / "cache", tmp_path / "first.npy"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISTILL_CACHE": str(cache)}
    for phase in ("fill", "play"):
        done = subprocess.run([sys.executable, "-c", PLAYED_BEFORE_TORCH, str(DEMO), str(SOUNDS / "pad_am.wav"),
                               str(ROOT / "tests"), phase, str(out), str(cache / "decoded")],
                              capture_output=True, text=True, timeout=400, env=env, cwd=tmp_path)
        assert done.returncode == 0 and "ok" in done.stdout, f"{phase}: {done.stderr[-3000:]}"


def test_before_torch_the_loader_gives_the_audio_router_time_to_be_made(monkeypatch):
    import distill_tui.tui.loading as loading

    monkeypatch.setattr(loading, "ROUTER_WAIT_S", 0.3)
    waiting = SimpleNamespace(router=None)
    t0 = time.monotonic()
    Loader(waiting)._wait_for_router()  # type: ignore[arg-type]
    assert time.monotonic() - t0 >= 0.3  # no router: waits, then gives up (torch must come)
    made = SimpleNamespace(router=object())
    t0 = time.monotonic()
    Loader(made)._wait_for_router()  # type: ignore[arg-type]
    assert time.monotonic() - t0 < 0.1


def test_a_change_to_the_decoding_code_retires_every_entry(tmp_path, monkeypatch):
    import distill_tui.audio.decoded_cache as dc

    for name in dc.DECODE_SOURCES:
        assert (dc.PACKAGE / name).is_file(), name  # the list names real modules
    cache = DecodedAudioCache(tmp_path / "decoded")
    grid = grid_for()
    cache.store(KEY, grid, (), audio_for(grid))
    assert cache.audition(KEY, grid) is not None
    changed = tmp_path / "pkg"
    for name in dc.DECODE_SOURCES:
        (changed / name).parent.mkdir(parents=True, exist_ok=True)
        (changed / name).write_bytes((dc.PACKAGE / name).read_bytes())
    (changed / "inference" / "audition.py").write_text("# Griffin-Lim changed")
    monkeypatch.setattr(dc, "PACKAGE", changed)
    dc.code_digest.cache_clear()
    try:
        assert cache.audition(KEY, grid) is None
    finally:
        monkeypatch.undo()
        dc.code_digest.cache_clear()
    assert cache.audition(KEY, grid) is not None


def test_the_decoded_audio_cache_and_the_decode_queue_import_no_torch():
    import os

    code = ("import sys; import distill_tui.audio.decoded_cache, distill_tui.tui.decode_queue; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_the_router_is_made_once_though_the_editor_asks_twice():
    from distill_tui.tui.player import Player

    started: list[str] = []

    class RouterHost:
        workers: list = []

        def run_worker(self, fn, **kwargs) -> None:  # noqa: ANN001, ANN003
            started.append(kwargs["group"])
            self.workers.append(SimpleNamespace(group=kwargs["group"], is_finished=False))

    player = Player(RouterHost(), on_position=lambda s: True, on_end=lambda: None)  # type: ignore[arg-type]
    player.ensure_router()  # at start-up
    player.ensure_router()  # once the model is loaded, the first still being made
    assert started == ["router"]
    RouterHost.workers[0].is_finished = True  # it failed: asking again tries again
    player.ensure_router()
    assert started == ["router", "router"]
    player.router = object()
    player.ensure_router()
    assert len(started) == 2


def test_a_long_full_decode_says_so_while_it_runs(tmp_path):
    """A 3-minute sound opened in the editor decoded for 11 s with nothing in the status line."""
    grid = grid_for(positions=500)  # 23 s of audio
    queue, host, name = queue_with(tmp_path, grid)
    queue.engine = SimpleNamespace(doc=SimpleNamespace(), auditioner=SimpleNamespace(iters=32))
    queue.request(name)
    job = queue._next_job()
    assert job is not None and job.previous is None and host.said == "decoding 23 seconds of audio…"
    queue._store(job, SimpleNamespace(audio=audio_for(grid), partial=False, seconds=11.0))
    assert host.said == f"decoded {name}"
    # an edit, re-decoded in part, then the idle full decode: the edit is heard already, and the last message stays
    queue.ws.apply(SetCell(level=0, position=3, code=(int(grid.codes[0, 3]) + 1) % 16), name)
    queue.ws.sounds[name].audition = SimpleNamespace(audio=audio_for(grid), partial=True)
    host.said = "undo: L1:3 = 05"
    queue.request(name, fresh=True)
    job = queue._next_job()
    assert job is not None and job.previous is None and host.said == "undo: L1:3 = 05"
    queue._store(job, SimpleNamespace(audio=audio_for(grid), partial=False, seconds=11.0))
    assert host.said == "undo: L1:3 = 05"
    short, short_host, short_name = queue_with(tmp_path / "short", grid_for(positions=40))  # 2 s: no time at all
    short.engine = queue.engine
    short.request(short_name)
    assert short._next_job() is not None and not hasattr(short_host, "said")
