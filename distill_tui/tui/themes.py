"""Theme files (TOML, in the package's `themes/` and the user's config folder) -> Textual themes plus the grid's colours.

Also the theme remembered between launches, in `locations.state_dir()/settings.json` (`{"theme": name}`).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.css.stylesheet import Stylesheet, StylesheetParseError
from textual.theme import Theme

from ..errors import DistillError
from ..fileio import atomic_write_json
from ..locations import config_dir, state_dir
from .palette import MAPS, GridColours

REPO_THEMES = Path(__file__).resolve().parents[1] / "themes"  # distill_tui/themes, package data (a wheel carries it)
THEME_KEYS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground", "background",
              "surface", "panel", "boost")
DEFAULT_THEME = "distill-dark"
FALLBACK = Theme(name=DEFAULT_THEME, primary="#5fafff", secondary="#87d7af", accent="#ffaf5f", warning="#ffd75f",
                 error="#ff5f5f", success="#5fd75f", foreground="#e4e4e4", background="#121417", surface="#1b1e23",
                 panel="#23272e", dark=True)


@dataclass
class LoadedThemes:
    """Every theme found, the grid colours of each, and the files that could not be used (with why)."""

    themes: list[Theme]
    colours: dict[str, GridColours]
    problems: list[str]


def theme_dirs() -> list[Path]:
    """The bundled `themes/` folder, then `locations.config_dir()/themes` (later files win).

    On Linux the second is `$XDG_CONFIG_HOME/distill-tui/themes`, default `~/.config/distill-tui/themes`.
    """
    return [REPO_THEMES, config_dir() / "themes"]


def parse_theme(doc: dict, path: Path) -> tuple[Theme, GridColours]:
    """One theme file's contents -> (Theme, GridColours); ValueError names what is wrong."""
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("needs a name")
    if not isinstance(doc.get("primary"), str):
        raise ValueError("needs a primary colour")
    kwargs = {k: doc[k] for k in THEME_KEYS if isinstance(doc.get(k), str)}
    variables = doc.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError("[variables] must be a table")
    theme = Theme(name=name, dark=bool(doc.get("dark", True)), variables={str(k): str(v) for k, v in variables.items()},
                  **kwargs)
    table = doc.get("distill", {})
    if not isinstance(table, dict):
        raise ValueError("[distill] must be a table")
    known = {f.name for f in dataclasses.fields(GridColours)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"unknown {'key' if len(unknown) == 1 else 'keys'} in [distill]: {', '.join(unknown)}")
    for key in ("code_palette", "spectrogram_palette"):
        if key in table and table[key] not in MAPS:
            raise ValueError(f"{key} {table[key]!r} is not one of {', '.join(MAPS)}")
    colours = GridColours(**{k: str(v) for k, v in table.items()})
    for key in THEME_KEYS:
        _check_colour(key, kwargs.get(key))
    for f in dataclasses.fields(GridColours):
        if not f.name.endswith("_palette"):
            _check_colour(f.name, getattr(colours, f.name))
    try:  # what Textual does with it when the theme is applied: a failure there ended the app
        generated = theme.to_color_system().generate()
    except Exception as exc:  # noqa: BLE001 - any failure of a user's file is reported, never fatal
        raise ValueError(f"Textual cannot use it ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from exc
    for key, value in theme.variables.items():
        _check_variable(key, value, generated)
    return theme, colours


def _check_variable(key: str, value: str, generated: dict[str, str]) -> None:
    """ValueError naming a `[variables]` entry Textual's stylesheet would refuse (it ended the app): a
    `...style` variable must be a text style ("bold", "reverse", "none"), any other a colour ("#336699",
    "ansi_black", "$primary")."""
    prop, kind = ("text-style", "text style") if key.endswith("style") else ("color", "colour")
    sheet = Stylesheet(variables={**generated, key: value})
    sheet.add_source(f"Widget {{ {prop}: ${key}; }}", read_from=("theme", key))
    try:
        sheet.parse()
    except StylesheetParseError:
        raise ValueError(f"[variables] {key} {value!r} is not a {kind}") from None


def _check_colour(key: str, value: str | None) -> None:
    """ValueError naming `key` when `value` is not a colour Textual reads ("#336699", "red", "rgb(1,2,3)")."""
    if value is None:
        return
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"{key} {value!r} is not a colour") from None


def load_themes(dirs: list[Path] | None = None) -> LoadedThemes:
    """Read every `*.toml` in the folders; a broken file is skipped and reported, never fatal."""
    found: dict[str, tuple[Theme, GridColours]] = {FALLBACK.name: (FALLBACK, GridColours())}
    problems: list[str] = []
    for folder in theme_dirs() if dirs is None else dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                with path.open("rb") as fh:
                    theme, colours = parse_theme(tomllib.load(fh), path)
            except (OSError, tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
                problems.append(f"{path}: {exc}")
                continue
            found[theme.name] = (theme, colours)
    return LoadedThemes([t for t, _ in found.values()], {n: c for n, (_, c) in found.items()}, problems)


def settings_path() -> Path:
    """`locations.state_dir()/settings.json`: what Distill remembers between launches (on Linux
    `$XDG_STATE_HOME/distill-tui/settings.json`, default `~/.local/state/distill-tui/settings.json`)."""
    return state_dir() / "settings.json"


def _read_settings(path: Path) -> dict:
    """The settings file's object; {} when there is none, or it cannot be read or is not a JSON object."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def remembered_theme(path: Path | None = None) -> str | None:
    """The theme picked last time (`settings_path()` by default), or None when none was remembered."""
    name = _read_settings(path or settings_path()).get("theme")
    return name if isinstance(name, str) and name else None


def remember_theme(name: str, path: Path | None = None) -> str | None:
    """Save `name` as the theme of the next launch, keeping the file's other keys.

    Returns None when saved, else why it could not be (the caller says so; it is never fatal).
    """
    path = path or settings_path()
    doc = _read_settings(path)
    doc["theme"] = name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, doc, "settings file", indent=2)
    except OSError as exc:
        return f"cannot remember the theme in {path}: {exc.strerror or exc}"
    except DistillError as exc:
        return f"cannot remember the theme: {exc}"
    return None
