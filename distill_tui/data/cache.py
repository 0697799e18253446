"""Preprocessed audio cache, keyed by file content and preprocessing parameters.

Each entry is a float32 `.npy` (mono, resampled, normalized) plus a small JSON sidecar. A stat index
(path, size, mtime) -> content hash lets a second scan of the same folder skip hashing and decoding.
Nothing here is ever unpickled (`allow_pickle=False`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import OutputError
from ..fileio import atomic_write, atomic_write_text
from ..locations import cache_dir


def cache_root() -> Path:
    """`$DISTILL_CACHE`, else the platform's cache folder (`locations.cache_dir()`: ~/.cache/distill-tui on Linux)."""
    return cache_dir()


def content_hash(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class AudioCache:
    """Get/put preprocessed audio by (content hash, parameter key)."""

    def __init__(self, params: dict, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "audio"
        self.key = hashlib.blake2b(json.dumps(params, sort_keys=True).encode(), digest_size=8).hexdigest()
        self._index_path = self.root / f"index-{self.key}.json"
        self._index: dict[str, str] | None = None

    def _load_index(self) -> dict[str, str]:
        if self._index is None:
            try:
                self._index = json.loads(self._index_path.read_text())
                if not isinstance(self._index, dict):
                    self._index = {}
            except (OSError, ValueError):
                self._index = {}
        return self._index

    def hash_for(self, path: Path) -> str:
        st = path.stat()
        stat_key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        index = self._load_index()
        if stat_key not in index:
            index[stat_key] = content_hash(path)
        return index[stat_key]

    def _paths(self, digest: str) -> tuple[Path, Path]:
        base = self.root / digest[:2] / f"{digest}-{self.key}"
        return base.with_suffix(".npy"), base.with_suffix(".json")

    def get(self, digest: str) -> tuple[np.ndarray, dict] | None:
        npy, meta = self._paths(digest)
        try:
            info = json.loads(meta.read_text())
            samples = np.load(npy, allow_pickle=False, mmap_mode=None)
        except (OSError, ValueError):
            return None
        if samples.dtype != np.float32 or samples.ndim != 1:
            return None
        return samples, info

    def put(self, digest: str, samples: np.ndarray, info: dict) -> None:
        npy, meta = self._paths(digest)
        try:
            npy.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(npy, lambda fh: np.save(fh, samples.astype(np.float32), allow_pickle=False), "cache entry")
            atomic_write_text(meta, json.dumps(info), "cache entry")
        except (OSError, OutputError):
            pass  # a cache that cannot be written only costs time

    def flush(self) -> None:
        if self._index is None:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self._index_path, json.dumps(self._index), "cache index")
        except (OSError, OutputError):
            pass

