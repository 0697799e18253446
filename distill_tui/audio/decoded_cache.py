"""The decoded-audio cache: the editor's last full decode of each sound as it was opened, so `space` plays it
before torch is imported.

A full decode of a grid depends on the model (its weights and settings: `codes.cache.ModelKey`, and the level
a grid without one decodes at), on the Griffin-Lim iterations run, the muted levels, the codes, and the grid's
own level and length (its source's `ref_db`, `gain_db`, `samples`), and on the code that decodes. All of those,
with `DECODE_VERSION`, the package's version and a hash of the decoding modules' source (`DECODE_SOURCES`, read,
not imported: a change to decoding retires every entry by itself) hash to the entry's name:

    locations.cache_dir()/decoded/<model folder>/<sha256>.npy      (N,) float32 little-endian, never unpickled

So an edited grid, a muted level or another model hashes to another entry: the cache can miss, it cannot
answer with the audio of another state. An entry is used only if it is a float32 vector of exactly the
length the grid decodes to; anything else (missing, damaged, too large) is a miss, never an error. The editor
writes the full decode of a sound not edited since it was opened (tui/decode_queue.py). No torch.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..codes.cache import ModelKey, PruneResult, prune_lru, touch
from ..codes.grid import CodeGrid
from ..errors import DistillError
from ..fileio import atomic_write
from ..locations import cache_dir

DECODE_VERSION = 1  # bump when a full decode of the same grid gives other samples (inference/audition.py)
MAX_CACHE_BYTES = 500 * 2**20  # about 50 minutes of decoded sound at 44.1 kHz
MAX_ENTRY_SAMPLES = 2 * 60 * 48_000  # 2 minutes at 48 kHz (22 MiB: it is read on the UI thread); longer is not kept
PACKAGE = Path(__file__).resolve().parents[1]
DECODE_SOURCES = ("inference/audition.py", "inference/codec.py", "audio/spectrogram.py", "audio/phase.py",
                  "model/vqvae.py", "model/quantizer.py", "config.py")  # what a full decode runs through


@dataclass(frozen=True)
class DecodeKey:
    """What a full decode depends on besides the grid: the model, the Griffin-Lim iterations, the default level."""

    model: ModelKey
    iters: int
    default_ref_db: float | None  # the model's median level, used for a grid whose source has no ref_db


@dataclass
class CachedAudition:
    """A full decode read back from the cache: enough to play and export; no spectrogram or phase, so the
    editor decodes the sound afresh once the model is loaded, before re-decoding any edit partially."""

    audio: np.ndarray  # (N,) float32 at the grid's rate
    codes: np.ndarray  # (Q, P) the codes it is the decode of
    muted: tuple[int, ...]
    db: None = None  # no spectrogram to draw yet
    partial: bool = False
    seconds: float = 0.0  # nothing was decoded
    cached: bool = True


@functools.cache
def code_digest() -> str:
    """sha256 (hex, 16 digits) of the decoding modules' source; a module that cannot be read counts as empty."""
    h = hashlib.sha256()
    for name in DECODE_SOURCES:
        try:
            h.update((PACKAGE / name).read_bytes())
        except OSError:
            h.update(b"-")
        h.update(name.encode())
    return h.hexdigest()[:16]


def decoded_length(grid: CodeGrid) -> int:
    """Samples a full decode of `grid` has: (positions * stride - 1) * hop, trimmed to the source's length."""
    n = max(grid.positions * grid.stride - 1, 0) * grid.hop_length
    return n if grid.samples is None else min(grid.samples, n)


def entry_name(key: DecodeKey, grid: CodeGrid, muted: Iterable[int]) -> str:
    """The sha256 (hex) naming the decode of `grid` with `muted` levels left out, under `key`."""
    src = grid.source or {}
    head = {"decode": DECODE_VERSION, "package": __version__, "code": code_digest(), "iters": key.iters, "default_ref_db": key.default_ref_db,
            "muted": sorted(int(m) for m in muted), "shape": list(grid.codes.shape),
            "sizes": [int(k) for k in grid.codebook_sizes], "rate": grid.sample_rate, "hop": grid.hop_length,
            "stride": grid.stride, "ref_db": src.get("ref_db"), "gain_db": src.get("gain_db"),
            "samples": src.get("samples")}
    h = hashlib.sha256(json.dumps(head, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(grid.codes, dtype="<i8").tobytes())
    return h.hexdigest()


class DecodedAudioCache:
    """Full decodes by (model, settings, grid, muted levels) under `folder` (default `cache_dir()/decoded`)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else cache_dir() / "decoded"

    def _entry(self, key: DecodeKey, grid: CodeGrid, muted: Iterable[int]) -> Path:
        return self.folder / key.model.folder_name / f"{entry_name(key, grid, muted)}.npy"

    def audition(self, key: DecodeKey, grid: CodeGrid, muted: Iterable[int] = ()) -> CachedAudition | None:
        """The cached full decode of `grid` as it is now, with `muted` levels left out; None when there is none."""
        muted = tuple(sorted(set(muted)))
        if grid.model_fingerprint != key.model.fingerprint:
            return None
        path = self._entry(key, grid, muted)
        expected = decoded_length(grid)
        try:
            with path.open("rb") as fh:
                raw = fh.read(128 + 4 * expected + 1)  # the .npy header is 128 bytes for a vector
            audio = np.load(io.BytesIO(raw), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if audio.dtype != np.float32 or audio.shape != (expected,) or not np.isfinite(audio).all():
            return None
        touch(path)
        return CachedAudition(audio=audio, codes=grid.codes.copy(), muted=muted)

    def store(self, key: DecodeKey, grid: CodeGrid, muted: Iterable[int], audio: np.ndarray) -> bool:
        """Keep `audio`, the full decode of `grid` with `muted` levels left out; False when it is not kept
        (not the length the grid decodes to, too long, or the file cannot be written). An entry already there
        is only marked used, unless it is damaged: the same name is the same decode."""
        audio = np.ascontiguousarray(audio, dtype="<f4")
        if audio.shape != (decoded_length(grid),) or len(audio) > MAX_ENTRY_SAMPLES:
            return False
        if self.audition(key, grid, muted) is not None:
            return True
        path = self._entry(key, grid, muted)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda fh: np.save(fh, audio, allow_pickle=False), "decoded-audio cache")
        except (OSError, DistillError):
            return False
        return True

    def prune(self, max_bytes: int = MAX_CACHE_BYTES) -> PruneResult:
        """Keep the folder under `max_bytes`, the least recently used decodes going first."""
        return prune_lru(self.folder, max_bytes)
