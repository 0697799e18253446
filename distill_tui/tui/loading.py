"""`Loader`: opens a model, and audio or codes files, in thread workers; the results come back as messages.

`ModelLoaded` / `ModelFailed` for the model, then `SoundLoaded` / `LoadFailed` for each file. A broken
file is reported and skipped; the next one still opens.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import get_current_worker

from ..inference.session import InferenceSession
from .messages import LoadFailed, ModelFailed, ModelLoaded, SoundLoaded
from .workers import report_failures
from .workspace import disk_stamp


class Loader:
    """Runs the loading workers of `host` (the editor screen), which receives their messages."""

    def __init__(self, host: DOMNode) -> None:
        self.host = host

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
        engine = self._load_model(path)
        if engine is not None:
            self.post_message(ModelLoaded(engine))
            self._open_all(engine, audio, "A")

    @report_failures("{path}", unexpected="{path}: cannot load the model ({kind}: {exc})", failed=ModelFailed)
    def _load_model(self, path: Path) -> InferenceSession:
        return InferenceSession.load(path)

    def _open_all(self, engine: Any, paths: list[Path], first_slot: str | None) -> None:
        worker = get_current_worker()
        for i, path in enumerate(paths):
            if worker.is_cancelled:
                return
            self._open(engine, Path(path), first_slot if i == 0 else None)

    @report_failures("{path}", unexpected="{path}: cannot read ({kind}: {exc})", failed=LoadFailed)
    def _open(self, engine: Any, path: Path, slot: str | None) -> None:
        is_codes = path.name.endswith(".json")
        stamp = disk_stamp(path) if is_codes else None  # before reading: a change after it is noticed at save
        grid = engine.open_file(path)
        self.post_message(SoundLoaded(grid, None if is_codes else path, path if is_codes else None, slot=slot,
                                      stamp=stamp))
