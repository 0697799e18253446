"""Helpers shared by the editor's tests (no tests here): run async pilot tests, wait, record what would be played."""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from distill_tui.playback.routing import PlayResult

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = ROOT / "samples" / "demo.distill"
DEMO_SOUNDS = ROOT / "samples" / "sounds"


def aio(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run an async test with asyncio (no pytest-asyncio needed); fixtures pass through."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return run


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Let the app run until `condition()` holds (workers post their results meanwhile)."""
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.02)


def decoded(editor: Any, name: str | None = None) -> bool:
    """The sound (A by default) is decoded in its current state."""
    name = name or editor.ws.a
    sound = editor.ws.sounds.get(name) if name else None
    return sound is not None and sound.audition is not None and sound.decoded_version == sound.version


class RecordingRouter:
    """Takes the place of the audio router: keeps every buffer it is asked to play."""

    def __init__(self) -> None:
        self.played: list[tuple[np.ndarray, int, str]] = []
        self.stops = 0

    def play(self, samples: np.ndarray, sample_rate: int, *, name: str = "", **_: Any) -> PlayResult:
        self.played.append((np.array(samples, copy=True), sample_rate, name))
        return PlayResult("file", f"recorded {name}", len(samples) / sample_rate)

    def stop(self) -> None:
        self.stops += 1

    @property
    def position(self) -> float | None:
        return None

    def notice(self) -> str | None:
        return None


def copy_demo(folder: Path) -> Path:
    """The demo model copied away, so tests never write into the repository's file."""
    target = folder / "demo.distill"
    if not target.exists():
        shutil.copy(DEMO_MODEL, target)
    return target
