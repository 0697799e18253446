"""Where Distill keeps things on disk: one place for every folder, following the platform's conventions.

Each folder can be moved by an environment variable of Distill's own; otherwise `platformdirs` gives the
platform's place (on Linux the XDG variables, e.g. `$XDG_CONFIG_HOME/distill-tui`, default `~/.config/distill-tui`).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "distill-tui"


def _dirs() -> platformdirs.PlatformDirs:
    # A new object each call: the XDG variables are read when asked (tests and users change them).
    return platformdirs.PlatformDirs(APP, appauthor=False)


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/distill-tui` (default `~/.config/distill-tui`): config.toml, themes/."""
    return Path(_dirs().user_config_dir)


def config_file() -> Path:
    """`$DISTILL_CONFIG`, else `config_dir()/config.toml`."""
    if os.environ.get("DISTILL_CONFIG"):
        return Path(os.environ["DISTILL_CONFIG"])
    return config_dir() / "config.toml"


def cache_dir() -> Path:
    """`$DISTILL_CACHE`, else `$XDG_CACHE_HOME/distill-tui` (default `~/.cache/distill-tui`)."""
    if os.environ.get("DISTILL_CACHE"):
        return Path(os.environ["DISTILL_CACHE"])
    return Path(_dirs().user_cache_dir)


def state_dir() -> Path:
    """`$XDG_STATE_HOME/distill-tui` (default `~/.local/state/distill-tui`): run folders, remembered settings."""
    return Path(_dirs().user_state_dir)


def data_dir() -> Path:
    """`$XDG_DATA_HOME/distill-tui` (default `~/.local/share/distill-tui`): templates."""
    return Path(_dirs().user_data_dir)
