"""The codes cache: each sound's grid kept by (model, file content), so the editor shows it before torch loads.

Encoding a sound needs the model, and the model needs torch (seconds to import); the grid is only numbers.
The editor keeps every grid it encodes here and, on the next launch, shows a sound whose bytes and model
are unchanged from here at once, while the model loads behind it (tui/loading.py). No torch.

    locations.cache_dir()/codes/<fingerprint>-<settings>/<sha256 of the file>.json
        {"format": "distill-codes-cache", "version": 1, "content": sha256, "grid": <a *.codes.json document>}
    locations.cache_dir()/codes/<fingerprint>-<settings>/look.json
        {"format": "distill-look", "version": 1, "labels": [str per level], "ranks": [[int per code] per level]}

`settings` is a hash of the model's spectrogram and model settings, `CACHE_VERSION` is bumped when encoding
changes. Entries are written atomically (fileio) and validated on read like any codes file; an entry that
is damaged, of another version or of another file is ignored (and replaced at the next encode), never an
error. The folder is a cache: deleting it only costs one encode per sound.

Reading an entry marks it used (its modification time is set to now); `prune_lru` keeps a cache folder under a
size by removing the least recently used files first (the editor prunes this folder to `MAX_CACHE_BYTES`, and
the decoded-audio cache's, once per launch after the sounds are open).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DistillError, printable
from ..fileio import atomic_write_json
from ..locations import cache_dir
from .grid import CodeGrid

FORMAT = "distill-codes-cache"
LOOK_FORMAT = "distill-look"
CACHE_VERSION = 2  # bump when what encoding makes of a file changes (2: band-preserving resampling)
MAX_ENTRY_BYTES = 64 * 2**20  # a 10-minute grid is under 1 MiB
MAX_CACHE_BYTES = 200 * 2**20  # the whole folder: a 4-s grid's entry is about 10 KB, so some 20,000 sounds
STALE_TEMP_S = 3600.0  # a temporary file this old was left by a killed write
_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]")


@dataclass(frozen=True)
class ModelKey:
    """What a file's codes depend on besides its bytes: the weights (fingerprint) and the settings."""

    fingerprint: str
    codebook_sizes: tuple[int, ...]
    settings: str  # 12 hex digits: the spectrogram and model settings

    @classmethod
    def of(cls, fingerprint: str, codebook_sizes: Sequence[int], settings: Mapping[str, Any]) -> ModelKey:
        """The key of a model whose document holds `settings` (its "spectrogram" and "model" sections)."""
        text = json.dumps(settings, sort_keys=True, default=str)
        return cls(fingerprint, tuple(int(k) for k in codebook_sizes), hashlib.sha256(text.encode()).hexdigest()[:12])

    @property
    def folder_name(self) -> str:
        return f"{_UNSAFE.sub('_', self.fingerprint)[:64]}-{self.settings}"


@dataclass
class CachedLook:
    """How the grid shows a model's codes: each level's label and each code's rank in its level's order."""

    labels: list[str]
    ranks: list[np.ndarray]  # ranks[q]: (codebook_sizes[q],) int64


def content_digest(path: str | Path) -> str:
    """sha256 of a file's bytes (hex); OSError when it cannot be read."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


class CodesCache:
    """Grids by (model, file content) under `folder` (default `locations.cache_dir()/codes`)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else cache_dir() / "codes"

    def _entry(self, key: ModelKey, digest: str) -> Path:
        return self.folder / key.folder_name / f"{digest}.json"

    def grid(self, key: ModelKey, path: str | Path, digest: str | None = None) -> CodeGrid | None:
        """The cached grid of the audio file at `path` (named after `path`, as encoding names it), or None."""
        try:
            digest = digest or content_digest(path)
            doc = _read_json(self._entry(key, digest))
            if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != CACHE_VERSION:
                return None
            if doc.get("content") != digest:
                return None
            grid = CodeGrid.from_json(doc.get("grid"))
            grid.check_model(key.fingerprint, list(key.codebook_sizes))
        except (OSError, ValueError, TypeError, KeyError, RecursionError, DistillError):
            return None
        touch(self._entry(key, digest))
        grid.name = printable(Path(path).stem)
        grid.source = {**grid.source, "file": printable(path)}
        return grid

    def store(self, key: ModelKey, digest: str, grid: CodeGrid) -> bool:
        """Keep `grid` as the codes of the file whose bytes hash to `digest`; False when it cannot be written."""
        doc = {"format": FORMAT, "version": CACHE_VERSION, "content": digest, "grid": grid.to_json()}
        return _write_json(self._entry(key, digest), doc)

    def look(self, key: ModelKey) -> CachedLook | None:
        """The model's level labels and code ranks as last stored, or None (missing, damaged, not this model's)."""
        try:
            doc = _read_json(self.folder / key.folder_name / "look.json")
            if not isinstance(doc, dict) or doc.get("format") != LOOK_FORMAT or doc.get("version") != CACHE_VERSION:
                return None
            labels, ranks = doc["labels"], doc["ranks"]
            if len(labels) != len(key.codebook_sizes) or len(ranks) != len(key.codebook_sizes):
                return None
            out = [np.asarray(r, dtype=np.int64) for r in ranks]
            for r, k in zip(out, key.codebook_sizes, strict=True):
                if r.shape != (k,) or not np.array_equal(np.sort(r), np.arange(k)):
                    return None
        except (OSError, ValueError, TypeError, KeyError, RecursionError):
            return None
        touch(self.folder / key.folder_name / "look.json")
        return CachedLook([str(x) for x in labels], out)

    def store_look(self, key: ModelKey, labels: Sequence[str], ranks: Sequence[np.ndarray]) -> bool:
        doc = {"format": LOOK_FORMAT, "version": CACHE_VERSION, "labels": [str(x) for x in labels],
               "ranks": [np.asarray(r).astype(int).tolist() for r in ranks]}
        return _write_json(self.folder / key.folder_name / "look.json", doc)


    def prune(self, max_bytes: int = MAX_CACHE_BYTES) -> PruneResult:
        """Keep the folder under `max_bytes`, the least recently used entries going first (see `prune_lru`)."""
        return prune_lru(self.folder, max_bytes)


@dataclass(frozen=True)
class PruneResult:
    """What `prune_lru` did: files removed and the bytes they held, and the bytes kept."""

    removed: int
    freed_bytes: int
    kept_bytes: int


def touch(path: Path) -> None:
    """Mark a cache entry as used now (its mtime: access times are not kept on many file systems)."""
    try:
        os.utime(path)
    except OSError:
        pass


def prune_lru(folder: Path, max_bytes: int, *, now: float | None = None) -> PruneResult:
    """Remove the least recently used files (oldest mtime first) under `folder` until the rest take at most
    `max_bytes`; temporary files of a killed write (`.NAME.*.tmp`, older than an hour) go whatever the size,
    and folders left empty are removed. A file that cannot be read or removed is skipped, never an error."""
    now = time.time() if now is None else now
    entries: list[tuple[float, int, Path]] = []
    removed = freed = 0
    try:
        files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    except OSError:
        return PruneResult(0, 0, 0)
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            if now - st.st_mtime > STALE_TEMP_S and _remove(path):
                removed, freed = removed + 1, freed + st.st_size
            continue
        entries.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries, key=lambda e: (e[0], str(e[2]))):
        if total <= max_bytes:
            break
        if _remove(path):
            total, removed, freed = total - size, removed + 1, freed + size
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            sub.rmdir()  # only when empty
        except OSError:
            pass
    return PruneResult(removed, freed, total)


def _remove(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True


def _read_json(path: Path) -> Any:
    """A JSON file of at most `MAX_ENTRY_BYTES`; ValueError or OSError otherwise."""
    with path.open("rb") as fh:
        raw = fh.read(MAX_ENTRY_BYTES + 1)
    if len(raw) > MAX_ENTRY_BYTES:
        raise ValueError("cache entry too large")
    return json.loads(raw)


def _write_json(path: Path, doc: Any) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, doc, "codes cache", separators=(",", ":"))
    except (OSError, DistillError):
        return False
    return True
