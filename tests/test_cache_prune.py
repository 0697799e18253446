"""Both editor caches stay under a size: the least recently used entries go first, once per launch
(codes/cache.py `prune_lru`, tui/loading.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from distill_tui.audio.decoded_cache import MAX_CACHE_BYTES as AUDIO_CAP
from distill_tui.audio.decoded_cache import DecodedAudioCache, DecodeKey, decoded_length
from distill_tui.codes.cache import MAX_CACHE_BYTES as CODES_CAP
from distill_tui.codes.cache import CodesCache, ModelKey, content_digest, prune_lru
from distill_tui.codes.grid import CodeGrid
from distill_tui.tui.loading import Loader

KEY = ModelKey.of("0123456789abcdef", [16, 16], {"spectrogram": {"n_fft": 1024}, "model": {"levels": 2}})


def write(path: Path, size: int, age_s: float, now: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (now - age_s, now - age_s))
    return path


def test_the_least_recently_used_go_first_until_the_folder_fits(tmp_path):
    now = time.time()
    old = write(tmp_path / "m1" / "old.json", 400, 300, now)
    mid = write(tmp_path / "m2" / "mid.npy", 400, 200, now)
    new = write(tmp_path / "m1" / "new.json", 400, 100, now)
    result = prune_lru(tmp_path, 800, now=now)
    assert not old.exists() and mid.exists() and new.exists()
    assert (result.removed, result.freed_bytes, result.kept_bytes) == (1, 400, 800)
    result = prune_lru(tmp_path, 500, now=now)
    assert not mid.exists() and new.exists() and not (tmp_path / "m2").exists()  # an emptied model folder goes too
    assert prune_lru(tmp_path, 10**9, now=now).removed == 0 and new.exists()


def test_a_killed_writes_temporary_file_goes_when_it_is_old(tmp_path):
    now = time.time()
    stale = write(tmp_path / "m" / ".abc.json.k3j2.tmp", 10, 7200, now)
    fresh = write(tmp_path / "m" / ".abc.json.zz9.tmp", 10, 5, now)  # a write in progress in another process
    prune_lru(tmp_path, 10**9, now=now)
    assert not stale.exists() and fresh.exists()


def test_a_missing_folder_prunes_nothing(tmp_path):
    assert prune_lru(tmp_path / "none", 0).removed == 0


def grid_for(key: ModelKey, positions: int = 12) -> CodeGrid:
    codes = np.stack([np.arange(positions) % k for k in key.codebook_sizes])  # (Q, P)
    return CodeGrid(codes, key.fingerprint, list(key.codebook_sizes), 22050, 256, 4, source={"samples": 9000})


def test_reading_an_entry_marks_it_used_so_a_sound_opened_often_survives(tmp_path):
    codes = CodesCache(tmp_path / "codes")
    files = []
    for i in range(3):
        f = tmp_path / f"{i}.wav"
        f.write_bytes(bytes([i]) * 100)
        codes.store(KEY, content_digest(f), grid_for(KEY))
        files.append(f)
    entries = sorted(codes.folder.rglob("*.json"))
    for e in entries:
        os.utime(e, (time.time() - 1000, time.time() - 1000))
    assert codes.grid(KEY, files[0]) is not None  # used now
    one = entries[0].stat().st_size
    codes.prune(max_bytes=one + 1)
    kept = list(codes.folder.rglob("*.json"))
    assert [p.stem for p in kept] == [content_digest(files[0])]

    audio = DecodedAudioCache(tmp_path / "decoded")
    dkey = DecodeKey(KEY, 32, None)
    grids = [grid_for(KEY, n) for n in (10, 11, 12)]
    for g in grids:
        audio.store(dkey, g, (), np.zeros(decoded_length(g), np.float32))
    for e in audio.folder.rglob("*.npy"):
        os.utime(e, (time.time() - 1000, time.time() - 1000))
    assert audio.audition(dkey, grids[1]) is not None
    audio.prune(max_bytes=40_000)  # room for one entry of 9,000 samples
    assert audio.audition(dkey, grids[1]) is not None
    assert audio.audition(dkey, grids[0]) is None and audio.audition(dkey, grids[2]) is None


def test_the_caps_are_the_documented_ones():
    assert CODES_CAP == 200 * 2**20 and AUDIO_CAP == 500 * 2**20
    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
    assert "200 MB" in doc and "500 MB" in doc


def test_the_loader_prunes_both_caches_once_per_launch(tmp_path):
    pruned: list[str] = []

    class Counting:
        def __init__(self, what: str) -> None:
            self.what = what

        def prune(self) -> None:
            pruned.append(self.what)

    class Decoder:
        audio_cache = Counting("decoded")

    loader = Loader(object(), Counting("codes"), decoder=Decoder())  # type: ignore[arg-type]
    loader._prune_once()
    loader._prune_once()  # a second model opened in the same launch
    assert pruned == ["codes", "decoded"]
