"""Every folder Distill reads or writes comes from `locations`: Distill's own variables first, then XDG, then HOME."""

from __future__ import annotations

from pathlib import Path

import pytest

from distill_tui.codes.patterns import templates_dir
from distill_tui.data.cache import AudioCache, cache_root
from distill_tui.playback.routing import config_path
from distill_tui.tui.keymap import load_user_keymap
from distill_tui.tui.themes import REPO_THEMES, theme_dirs

VARIABLES = ("DISTILL_CACHE", "DISTILL_CONFIG", "DISTILL_TEMPLATES", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")


@pytest.fixture
def clean(monkeypatch, tmp_path) -> Path:
    """No Distill or XDG variable set, HOME in a temporary folder."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_defaults_under_home(clean):
    home = clean / "home"
    assert cache_root() == home / ".cache" / "distill-tui"
    assert templates_dir() == home / ".local" / "share" / "distill-tui" / "templates"
    assert theme_dirs() == [REPO_THEMES, home / ".config" / "distill-tui" / "themes"]
    assert config_path({}) == home / ".config" / "distill-tui" / "config.toml"


def test_xdg_variables_move_each_folder(clean, monkeypatch):
    for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(clean / name.lower()))
    assert cache_root() == clean / "xdg_cache_home" / "distill-tui"
    assert AudioCache({"sr": 1}).root == clean / "xdg_cache_home" / "distill-tui" / "audio"
    assert templates_dir() == clean / "xdg_data_home" / "distill-tui" / "templates"
    assert theme_dirs()[1] == clean / "xdg_config_home" / "distill-tui" / "themes"
    assert config_path({}) == clean / "xdg_config_home" / "distill-tui" / "config.toml"
    config = clean / "xdg_config_home" / "distill-tui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[keymap]\n"editor.play" = "p"\n')
    assert load_user_keymap().keymap == {"editor.play": "p"}


def test_distill_variables_win(clean, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(clean / "xdg"))
    monkeypatch.setenv("DISTILL_CACHE", str(clean / "cache"))
    monkeypatch.setenv("DISTILL_TEMPLATES", str(clean / "templates"))
    monkeypatch.setenv("DISTILL_CONFIG", str(clean / "mine.toml"))
    (clean / "mine.toml").write_text('[keymap]\n"editor.play" = "z"\n')
    assert cache_root() == clean / "cache"
    assert templates_dir() == clean / "templates"
    assert load_user_keymap().keymap == {"editor.play": "z"}
    # the router reads Distill's variables from the mapping it is given (tests pass their own)
    assert config_path({"DISTILL_CONFIG": str(clean / "other.toml")}) == clean / "other.toml"


def test_count_audio_counts_what_training_finds_and_stops_early(tmp_path):
    """The picker counts, at each keystroke, the sounds a folder and its sub-folders hold (it said "0 sound
    files here" of a sample pack whose sounds are all in sub-folders); in a huge tree it stops and says "+"."""
    from distill_tui.data.audio_files import count_audio, find_audio

    for i in range(12):
        folder = tmp_path / f"kit{i % 3}" / ("deep" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"s{i}.wav").write_bytes(b"RIFF")
    (tmp_path / "notes.txt").write_text("n")
    assert count_audio(tmp_path) == (len(find_audio(tmp_path)), True) == (12, True)
    n, complete = count_audio(tmp_path, most=5)
    assert n >= 5 and not complete
    assert count_audio(tmp_path, seconds=-1) == (0, False)  # out of time before the first folder
    assert count_audio(tmp_path / "missing") == (0, True)
