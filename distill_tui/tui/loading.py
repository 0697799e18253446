"""`Loader`: opens a model, and audio or codes files, in thread workers; the results come back as messages.

`ModelLoaded` / `ModelFailed` for the model, then `SoundLoaded` / `LoadFailed` for each file. A broken
file is reported and skipped; the next one still opens.

Sounds come from the codes cache (codes/cache.py) when their bytes and the model are unchanged since they
were last encoded: before the model loads, from the model file's header alone (no torch), `LookCached`
(the level labels and code colours) and the cached grids are posted, so the grid shows before torch is
imported; the model loads behind them, then the other sounds are encoded (and cached). The decode queue is
told the model's decode key first (`DecodeQueue.expect`), so a cached grid whose full decode is in the
decoded-audio cache (audio/decoded_cache.py) can be played before torch too. Once the sounds are open, both
caches are pruned (least recently used first), once per launch.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import get_current_worker

from ..audio.decoded_cache import DecodeKey
from ..codes.cache import CachedLook, CodesCache, ModelKey, content_digest
from ..errors import DistillError
from ..inference.session import InferenceSession
from ..persistence.document import ModelDocument
from ..persistence.header import read_header_document
from .messages import LoadFailed, ModelFailed, ModelLoaded, SoundLoaded
from .workers import report_failures
from .workspace import disk_stamp


@dataclass
class OpenProgress:
    """The sounds one launch (or model switch) asked for, counted as they arrive: "opening sounds: 37 of 200"
    on the status line while a folder opens, then how many are open and which could not be (their toasts go)."""

    pending: set[str]
    total: int
    failed: list[str] = field(default_factory=list)  # file names, in the order they failed

    @classmethod
    def of(cls, paths: list[Path]) -> OpenProgress:
        return cls(pending={str(p) for p in paths}, total=len(paths))

    def arrived(self, path: Path | str | None, ok: bool = True) -> str | None:
        """Count `path` in if it is one of these sounds (`ok=False`: it failed) and give the status line's words;
        None for any other sound, and when only one was asked for."""
        if path is None or str(path) not in self.pending:
            return None
        self.pending.discard(str(path))
        if not ok:
            self.failed.append(Path(path).name)
        return self.words() if self.total > 1 else None

    def words(self) -> str:
        if self.pending:
            return f"opening sounds: {self.total - len(self.pending)} of {self.total}"
        n = self.total - len(self.failed)
        opened = f"{n} sound{'' if n == 1 else 's'} open"
        if not self.failed:
            return opened
        names = ", ".join(self.failed[:3]) + (", …" if len(self.failed) > 3 else "")
        return f"{opened}; {len(self.failed)} could not be read: {names}"


@dataclass
class LookCached(Message):
    """How the grid showed this model's codes last time (posted before the cached grids)."""

    look: CachedLook


def model_key(doc: ModelDocument) -> ModelKey:
    """The codes cache's key for a model: its fingerprint, codebook sizes and settings."""
    d = doc.to_dict()
    return ModelKey.of(doc.fingerprint, doc.codebook_sizes, {"spectrogram": d["spectrogram"], "model": d["model"]})


def decode_key(doc: ModelDocument, iters: int | None = None) -> DecodeKey:
    """The decoded-audio cache's key for a model: its codes-cache key, the Griffin-Lim iterations (default: the
    file's own, which the editor's decodes run) and the level a grid without one decodes at."""
    its = doc.spectrogram.griffin_lim_iters if iters is None else iters
    return DecodeKey(model_key(doc), int(its), doc.dataset.median_ref_db)


PAINT_WAIT_S = 2.0  # at most this long for cached grids to reach the screen before torch is imported
WRITE_S = 0.15  # then this long for Textual's writer thread to send the frame: torch's import holds the GIL
ROUTER_WAIT_S = 1.0  # and at most this long for the audio router, so a space on a cached sound finds it made


class Loader:
    """Runs the loading workers of `host` (the editor screen), which receives their messages."""

    def __init__(self, host: DOMNode, cache: CodesCache | None = None, *, decoder: Any = None) -> None:
        self.host = host
        self.cache = cache or CodesCache()
        self.decoder = decoder  # the `DecodeQueue`: told which model's decodes it may take from its cache
        self._pruned = False

    def post_message(self, message: Message) -> bool:
        """Results and failures go to the host."""
        return self.host.post_message(message)

    def load_model(self, path: Path, audio: list[Path]) -> None:
        """Load the model at `path` (torch is imported then), then open `audio` into it, A first."""
        self.host.run_worker(functools.partial(self._load_model_and_sounds, path, list(audio)), thread=True,
                             exclusive=True, group="load", description=f"load {path.name}")

    def load_files(self, engine: Any, paths: list[Path], slot: str | None) -> None:
        """Open audio or codes files of `engine`'s model; the first goes to `slot` (None: wherever is free)."""
        self.host.run_worker(functools.partial(self._open_all, engine, list(paths), slot), thread=True,
                             group="files", description="open files")

    def _load_model_and_sounds(self, path: Path, audio: list[Path]) -> None:
        todo = self._show_cached(path, audio)
        engine = self._load_model(path)
        if engine is not None:
            self.post_message(ModelLoaded(engine))
            key = self._key(engine)
            if key is not None:
                self.cache.store_look(key, engine.labels, engine.ranks)
            self._open_all(engine, todo, "A" if todo and audio and todo[0] == audio[0] else None)
        self._prune_once()

    def _prune_once(self) -> None:
        """Keep both caches under their caps (docs/architecture.md, decision 22), after the sounds are open."""
        if self._pruned:
            return
        self._pruned = True
        self.cache.prune()
        audio_cache = getattr(self.decoder, "audio_cache", None)
        if audio_cache is not None:
            audio_cache.prune()

    def _show_cached(self, path: Path, audio: list[Path]) -> list[Path]:
        """Before torch: post the look and the grids the cache holds for this model; returns the files still
        to open. A model whose header cannot be read caches nothing (loading it then says why)."""
        try:
            doc = read_header_document(path)
        except DistillError:
            self._expect(None)
            return list(audio)
        key = model_key(doc)
        self._expect(decode_key(doc))
        look = self.cache.look(key)
        if look is not None:
            self.post_message(LookCached(look))
        todo: list[Path] = []
        for i, file in enumerate(audio):
            grid = None if file.name.endswith(".json") else self.cache.grid(key, file)
            if grid is None:
                todo.append(file)
            else:
                self.post_message(SoundLoaded(grid, file, None, slot="A" if i == 0 else None))
        if len(todo) < len(audio):  # torch's import would hold the interpreter while the grid is painted
            painted = threading.Event()
            self.host.call_after_refresh(painted.set)
            if painted.wait(PAINT_WAIT_S):
                time.sleep(WRITE_S)
            self._wait_for_router()
        return todo

    def _wait_for_router(self) -> None:
        """Before torch: give the audio router (made in its own worker since the first frame) time to be made;
        made under torch's import it would come late, and space would find no output to play to."""
        t0 = time.monotonic()
        while getattr(self.host, "router", True) is None and time.monotonic() - t0 < ROUTER_WAIT_S:
            time.sleep(0.01)

    def _expect(self, key: DecodeKey | None) -> None:
        """Tell the decode queue the model being loaded, before any of its grids is posted."""
        if self.decoder is not None:
            self.decoder.expect(key)

    @report_failures("{path}", unexpected="{path}: cannot load the model ({kind}: {exc})", failed=ModelFailed)
    def _load_model(self, path: Path) -> InferenceSession:
        return InferenceSession.load(path)

    def _key(self, engine: Any) -> ModelKey | None:
        doc = getattr(engine, "doc", None)
        return model_key(doc) if isinstance(doc, ModelDocument) else None

    def _open_all(self, engine: Any, paths: list[Path], first_slot: str | None) -> None:
        worker = get_current_worker()
        key = self._key(engine)
        for i, path in enumerate(paths):
            if worker.is_cancelled:
                return
            self._open(engine, Path(path), first_slot if i == 0 else None, key)

    @report_failures("{path}", unexpected="{path}: cannot read ({kind}: {exc})", failed=LoadFailed)
    def _open(self, engine: Any, path: Path, slot: str | None, key: ModelKey | None = None) -> None:
        is_codes = path.name.endswith(".json")
        stamp = disk_stamp(path) if is_codes else None  # before reading: a change after it is noticed at save
        grid = None if is_codes or key is None else self._encode_cached(engine, path, key)
        if grid is None:
            grid = engine.open_file(path)
        self.post_message(SoundLoaded(grid, None if is_codes else path, path if is_codes else None, slot=slot,
                                      stamp=stamp))

    def _encode_cached(self, engine: Any, path: Path, key: ModelKey) -> Any:
        """An audio file's grid from the cache, else encoded and then cached (None if it cannot be hashed:
        `open_file` then says why)."""
        try:
            digest = content_digest(path)
        except OSError:
            return None
        grid = self.cache.grid(key, path, digest)
        if grid is None:
            grid = engine.open_file(path)
            self.cache.store(key, digest, grid)
        return grid
