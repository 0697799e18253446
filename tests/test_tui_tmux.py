"""End to end in a real terminal: run distill-tui in tmux, send keys, read the screen with capture-pane.

Checks an edit (i, two hex digits, Esc), an undo, a redo and a save, then quits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS, copy_demo

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None,
                       reason="tmux is not installed: the end-to-end test drives distill-tui in a tmux pane"),
    pytest.mark.skipif(not DEMO_MODEL.exists(), reason="the bundled demo model samples/demo.distill is missing"),
]


class Pane:
    """One tmux session on a private server socket."""

    def __init__(self, socket: str, name: str) -> None:
        self.socket, self.name = socket, name

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True).stdout

    def keys(self, *keys: str, pause: float = 0.15) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", self.name, key)
            time.sleep(pause)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            match = re.search(pattern, self.screen(), re.MULTILINE)
            if match:
                return match
            time.sleep(0.1)
        raise AssertionError(f"never saw {pattern!r}; the screen was:\n{self.screen()}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", self.name], capture_output=True).returncode == 0


@pytest.fixture
def pane(tmp_path: Path):
    model = copy_demo(tmp_path)
    sound = DEMO_SOUNDS / "pluck_a2.wav"
    socket = f"distill-test-{os.getpid()}"
    env = {"DISTILL_PLAYBACK": "file", "DISTILL_PLAY_DIR": str(tmp_path / "played"), "DISTILL_CACHE": str(tmp_path / "cache"),
           "TERM": "xterm-256color"}
    command = " ".join([sys.executable, "-m", "distill_tui.cli", "open", str(model), str(sound)])
    args = ["tmux", "-L", socket, "new-session", "-d", "-s", "e2e", "-x", "110", "-y", "32", "-c", str(tmp_path)]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    subprocess.run([*args, command], check=True)
    p = Pane(socket, "e2e")
    yield p
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def cell(p: Pane) -> str:
    """The code under the cursor, as the inspector shows it."""
    return p.wait_for(r"code ([0-9a-f]{2}) \(").group(1)


def test_edit_undo_redo_save_in_tmux(pane: Pane, tmp_path: Path):
    pane.wait_for(r"Structure\s+[0-9a-f]{2} [0-9a-f]{2}", timeout=120)  # the grid is filled (torch loads first)
    pane.wait_for(r"A: pluck_a2")
    original = cell(pane)
    new = "00" if original != "00" else "01"

    pane.keys("i")
    pane.wait_for(r"^ EDIT ")
    pane.keys(new[0], new[1])
    pane.wait_for(r"pos 1/")  # the cursor advanced by the edit step
    pane.keys("Escape")
    pane.wait_for(r"^ NORMAL ")
    pane.wait_for(rf"Structure\s+{new} ")  # the first cell shows the typed code
    pane.wait_for(r"A: pluck_a2 ●")  # unsaved
    pane.keys("h")
    pane.wait_for(r"L1 pos 0/")  # the inspector follows the cursor; read it only once the key is taken
    assert cell(pane) == new

    pane.keys("u")
    pane.wait_for(rf"Structure\s+{original} ")
    pane.wait_for(rf"undo: L1:0 = {new}")
    pane.keys("C-r")
    pane.wait_for(rf"Structure\s+{new} ")

    pane.keys("C-s")
    pane.wait_for(r"Save the codes of pluck_a2 to")
    pane.keys("Enter")
    saved = tmp_path / "pluck_a2.codes.json"
    pane.wait_for(r"saved .*pluck_a2\.codes\.json")
    assert saved.exists()
    assert json.loads(saved.read_text())["codes"][0][0] == int(new, 16)
    pane.wait_for(r"A: pluck_a2\s*$")  # no longer marked unsaved (no ● after the name; the mode is on the status line)

    pane.keys("C-q")
    t0 = time.monotonic()
    while pane.alive() and time.monotonic() - t0 < 20:
        time.sleep(0.1)
    assert not pane.alive(), "ctrl+q did not quit with everything saved"
