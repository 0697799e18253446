"""The codes cache: a sound opened before shows its grid before torch loads; a damaged entry or a changed
file falls back to encoding (codes/cache.py, persistence/header.py, tui/loading.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from distill_tui.codes.cache import CodesCache, ModelKey, content_digest
from distill_tui.codes.grid import CodeGrid
from distill_tui.errors import ModelFileError
from distill_tui.persistence.header import read_header_document
from distill_tui.tui.loading import Loader, LookCached, model_key
from distill_tui.tui.messages import SoundLoaded

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "samples" / "demo.distill"
SOUNDS = ROOT / "samples" / "sounds"
KEY = ModelKey.of("0123456789abcdef", [16, 16], {"spectrogram": {"n_fft": 1024}, "model": {"levels": 2}})


def grid_for(key: ModelKey, positions: int = 12, seed: int = 0, name: str = "x") -> CodeGrid:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, k, positions) for k in key.codebook_sizes])
    return CodeGrid(codes, key.fingerprint, list(key.codebook_sizes), 22050, 256, 4, name=name,
                    source={"samples": positions * 1024, "ref_db": 10.0, "gain_db": -1.0, "file": f"/old/{name}.wav"})


def sound_file(folder: Path, name: str = "a.wav", data: bytes = b"RIFF-not-really-audio-but-bytes") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def test_a_stored_grid_comes_back_named_after_the_file_it_is_opened_from(tmp_path):
    cache = CodesCache(tmp_path / "cache")
    a = sound_file(tmp_path)
    grid = grid_for(KEY, name="a")
    assert cache.store(KEY, content_digest(a), grid)
    copy = sound_file(tmp_path, "copy of a.wav")  # the same bytes under another name
    got = cache.grid(KEY, copy)
    assert got is not None and np.array_equal(got.codes, grid.codes)
    assert got.name == "copy of a" and got.source["file"] == str(copy) and got.source["ref_db"] == 10.0


def test_a_changed_file_or_another_model_misses(tmp_path):
    cache = CodesCache(tmp_path / "cache")
    a = sound_file(tmp_path)
    cache.store(KEY, content_digest(a), grid_for(KEY))
    assert cache.grid(KEY, a) is not None
    other = ModelKey.of(KEY.fingerprint, KEY.codebook_sizes, {"spectrogram": {"n_fft": 2048}, "model": {"levels": 2}})
    assert cache.grid(other, a) is None  # same weights, other settings
    assert cache.grid(ModelKey("fedcba9876543210", KEY.codebook_sizes, KEY.settings), a) is None
    a.write_bytes(a.read_bytes() + b"\0")  # one byte more
    assert cache.grid(KEY, a) is None
    assert cache.grid(KEY, tmp_path / "gone.wav") is None


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong-digest", "code-out-of-range",
                                    "other-fingerprint", "other-version", "not-an-object"])
def test_a_damaged_entry_is_ignored_not_fatal(tmp_path, damage):
    cache = CodesCache(tmp_path / "cache")
    a = sound_file(tmp_path)
    digest = content_digest(a)
    cache.store(KEY, digest, grid_for(KEY))
    entry = cache.folder / KEY.folder_name / f"{digest}.json"
    doc = json.loads(entry.read_text())
    if damage == "garbage":
        entry.write_bytes(b"\x00\xff" * 100)
    elif damage == "truncated":
        entry.write_text(entry.read_text()[:-40])
    elif damage == "empty":
        entry.write_text("")
    elif damage == "wrong-digest":
        doc["content"] = "0" * 64
    elif damage == "code-out-of-range":
        doc["grid"]["codes"][0][3] = 99
    elif damage == "other-fingerprint":
        doc["grid"]["model_fingerprint"] = "ffffffffffffffff"
    elif damage == "other-version":
        doc["version"] = 99
    elif damage == "not-an-object":
        doc = [doc]
    if damage not in ("garbage", "truncated", "empty"):
        entry.write_text(json.dumps(doc))
    assert cache.grid(KEY, a) is None
    assert cache.store(KEY, digest, grid_for(KEY))  # the next encode replaces it
    assert cache.grid(KEY, a) is not None


def test_the_look_is_kept_and_checked(tmp_path):
    cache = CodesCache(tmp_path / "cache")
    ranks = [np.arange(16)[::-1], np.arange(16)]
    assert cache.look(KEY) is None
    cache.store_look(KEY, ["Structure", "Detail"], ranks)
    look = cache.look(KEY)
    assert look is not None and look.labels == ["Structure", "Detail"] and np.array_equal(look.ranks[0], ranks[0])
    cache.store_look(KEY, ["Structure", "Detail"], [np.zeros(16, int), np.arange(16)])  # not an order
    assert cache.look(KEY) is None


def test_the_model_header_is_read_without_torch_and_agrees_with_the_full_reader(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from distill_tui.persistence.header import read_header_document
        doc = read_header_document({str(DEMO)!r})
        assert "torch" not in sys.modules, "torch was imported"
        print(doc.fingerprint)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**_env(), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    from distill_tui.persistence.model_file import read_document

    assert done.stdout.strip() == read_document(DEMO).fingerprint
    bad = tmp_path / "bad.distill"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}        ")
    with pytest.raises(ModelFileError):
        read_header_document(bad)
    bad.write_bytes(b"\x01")
    with pytest.raises(ModelFileError):
        read_header_document(bad)


class Host:
    """Takes the editor's place for the loader: keeps what it is sent."""

    def __init__(self) -> None:
        self.messages: list = []

    def post_message(self, message) -> bool:  # noqa: ANN001
        self.messages.append(message)
        return True

    def call_after_refresh(self, callback) -> bool:  # noqa: ANN001
        self.messages.append("painted")
        callback()
        return True


class CountingEngine:
    """An engine that 'encodes' every file into the same grid and counts how often."""

    def __init__(self, key: ModelKey) -> None:
        self.key = key
        self.encoded: list[Path] = []

    def open_file(self, path: Path) -> CodeGrid:
        self.encoded.append(path)
        return grid_for(self.key, name=path.stem)


def test_the_loader_encodes_once_then_uses_the_cache_until_the_file_changes(tmp_path):
    host, cache = Host(), CodesCache(tmp_path / "cache")
    loader, engine = Loader(host, cache), CountingEngine(KEY)  # type: ignore[arg-type]
    a = sound_file(tmp_path)
    loader._open(engine, a, "A", KEY)
    loader._open(engine, a, "A", KEY)
    assert engine.encoded == [a]
    a.write_bytes(b"other bytes")
    loader._open(engine, a, "A", KEY)
    assert engine.encoded == [a, a]
    assert [type(m) for m in host.messages] == [SoundLoaded] * 3


@pytest.mark.skipif(not DEMO.exists(), reason="the bundled demo model samples/demo.distill is missing")
def test_before_the_model_the_loader_posts_the_look_and_cached_grids_and_returns_the_rest(tmp_path):
    host, cache = Host(), CodesCache(tmp_path / "cache")
    loader = Loader(host, cache)  # type: ignore[arg-type]
    key = model_key(read_header_document(DEMO))
    first, second, third = sorted(SOUNDS.glob("*.wav"))[:3]
    assert loader._show_cached(DEMO, [first, second, third]) == [first, second, third] and not host.messages
    cache.store(key, content_digest(second), grid_for(key, name="second"))
    cache.store_look(key, ["a"] * len(key.codebook_sizes), [np.arange(k) for k in key.codebook_sizes])
    assert loader._show_cached(DEMO, [first, second, third]) == [first, third]
    look, loaded, painted = host.messages  # the loader waits for the screen before it imports torch
    assert isinstance(look, LookCached) and isinstance(loaded, SoundLoaded) and painted == "painted"
    assert loaded.audio_path == second and loaded.grid.name == second.stem and loaded.slot is None
    host.messages.clear()
    loader._show_cached(DEMO, [second, first])
    assert host.messages[1].slot == "A"  # the first file named goes to A, cached or not
    assert loader._show_cached(tmp_path / "no such.distill", [second]) == [second]  # the model load says why


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


SHOWN_BEFORE_TORCH = """
import asyncio, sys, threading, time
from pathlib import Path
import numpy as np
from distill_tui.codes.cache import CodesCache, content_digest
from distill_tui.codes.grid import CodeGrid
from distill_tui.inference import session
from distill_tui.persistence.header import read_header_document
from distill_tui.tui.app import DistillApp
from distill_tui.tui.loading import model_key

demo, sound = Path(sys.argv[1]), Path(sys.argv[2])
key = model_key(read_header_document(demo))
codes = np.stack([np.arange(40) % k for k in key.codebook_sizes])
CodesCache().store(key, content_digest(sound), CodeGrid(codes, key.fingerprint, list(key.codebook_sizes), 22050, 256,
                   4, name="cached", source={"samples": 40 * 1024, "ref_db": 0.0, "gain_db": 0.0}))
go = threading.Event()
real_load = session.InferenceSession.load.__func__
def held_load(cls, path):
    go.wait(60)  # the model loads only once the test has looked
    return real_load(cls, path)
session.InferenceSession.load = classmethod(held_load)

async def main():
    app = DistillApp(demo, [sound], theme_dirs=[])
    async with app.run_test(size=(100, 30)) as pilot:
        editor = app.editor
        t0 = time.monotonic()
        while editor.ws.a is None and time.monotonic() - t0 < 30:
            await pilot.pause(0.02)
        shown = editor.grid.doc
        assert shown is not None, "no grid before the model"
        assert "torch" not in sys.modules, "torch was imported before the grid showed"
        assert editor.engine is None and np.array_equal(shown.codes, codes) and shown.name == sound.stem
        go.set()
        while (editor.engine is None or editor.ws.sounds[editor.ws.a].audition is None) and time.monotonic() - t0 < 120:
            await pilot.pause(0.05)
        assert editor.ws.sounds[editor.ws.a].audition is not None, "the cached grid was never decoded"
        assert len(editor.ws.sounds) == 1
    print("ok")

asyncio.run(main())
"""


@pytest.mark.skipif(not DEMO.exists(), reason="the bundled demo model samples/demo.distill is missing")
def test_a_cached_sound_shows_its_grid_before_torch_and_is_decoded_behind_it(tmp_path):
    env = {**_env(), "PYTHONPATH": str(ROOT), "DISTILL_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", SHOWN_BEFORE_TORCH, str(DEMO), str(SOUNDS / "pad_am.wav")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-3000:]
