"""Every key binding of the editor, with an id so it can be rebound, grouped into families for the help screen.

Rebind in the config file, `locations.config_file()`: `$DISTILL_CONFIG`, else
`$XDG_CONFIG_HOME/distill-tui/config.toml` (default `~/.config/distill-tui/config.toml`):

    [keymap]
    "editor.play" = "space,z"    # binding id = key(s), comma-separated
    "grid.right" = "l,right,n"

No binding needs Alt or Cmd: they do not survive SSH and many terminals.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding

from ..locations import config_file

# ---- on the code grid: moving, counts, modes (the grid handles counts, "gg" and hex typing itself)
GRID_BINDINGS: list[Binding] = [
    Binding("h,left", "cursor_left", "left", show=False, id="grid.left"),
    Binding("j,down", "cursor_down", "down", show=False, id="grid.down"),
    Binding("k,up", "cursor_up", "up", show=False, id="grid.up"),
    Binding("l,right", "cursor_right", "right", show=False, id="grid.right"),
    Binding("w", "beat_forward", "next beat", show=False, id="grid.beat_forward"),
    Binding("b", "beat_back", "previous beat", show=False, id="grid.beat_back"),
    Binding("0,home", "line_start", "line start", show=False, id="grid.line_start"),
    Binding("dollar_sign,end", "line_end", "line end", show=False, id="grid.line_end"),
    Binding("g", "goto_prefix", "gg: first level", show=False, id="grid.first_level"),
    Binding("G", "last_level", "last level", show=False, id="grid.last_level"),
    Binding("i,enter", "edit_mode", "edit", id="grid.edit_mode", tooltip="type hex digits to overwrite codes"),
    Binding("escape", "normal_mode", "normal", show=False, id="grid.normal_mode"),
    Binding("v", "visual", "visual", show=False, id="grid.visual",
            tooltip="select cells; y, d, r, R, + and - then act on them"),
    Binding("V", "visual_line", "visual levels", show=False, id="grid.visual_line",
            tooltip="select whole levels"),
]

# ---- on the editor screen: editing, listening, files
EDITOR_BINDINGS: list[Binding] = [
    Binding("space", "play", "play/stop", id="editor.play"),
    Binding("f", "follow", "follow", show=False, id="editor.follow",
            tooltip="the cursor follows what is playing, on/off"),
    Binding("L", "loop_play", "loop playback", show=False, id="editor.loop_play",
            tooltip="loop playback on/off: round until you stop it"),
    Binding("a", "ab", "A/B original", show=False, id="editor.ab",
            tooltip="play the original (the recording, or the sound as opened), or switch back to your edit"),
    Binding("plus,equals_sign", "nudge(1)", "nudge up", show=False, id="editor.nudge_up",
            tooltip="each selected code one step brighter/louder (the order the Cell panel shows)"),
    Binding("minus", "nudge(-1)", "nudge down", show=False, id="editor.nudge_down",
            tooltip="each selected code one step darker/softer"),
    Binding("y", "yank", "yank", show=False, id="editor.yank", tooltip="copy the selection"),
    Binding("p", "paste('overwrite')", "paste", show=False, id="editor.paste",
            tooltip="paste the copy at the cursor, over what is there"),
    Binding("P", "paste('mix')", "mix-paste", show=False, id="editor.mix_paste",
            tooltip="paste only the copy's filled cells; the cells it has no code for stay as they are"),
    Binding("d,delete", "clear", "clear", show=False, id="editor.clear",
            tooltip="fill the selection with each level's most common code: a plain stretch"),
    Binding("u", "undo", "undo", id="editor.undo"),
    Binding("ctrl+r", "redo", "redo", show=False, id="editor.redo"),
    Binding("r", "randomize", "randomize", show=False, id="editor.randomize",
            tooltip="random codes in the selection, each as common as it was in training"),
    Binding("R", "regenerate", "regenerate", show=False, id="editor.regenerate",
            tooltip="redraw the selection with the prior, following what comes before"),
    Binding("x", "swap_ab", "swap A/B", show=False, id="editor.swap_ab",
            tooltip="exchange the selected cells with B's cells at the same place"),
    Binding("o", "other_slot", "edit B", show=False, id="editor.other_slot", tooltip="edit B instead of A, and back"),
    Binding("right_square_bracket", "next_sound(1)", "next sound", show=False, id="editor.next_sound"),
    Binding("left_square_bracket", "next_sound(-1)", "previous sound", show=False, id="editor.previous_sound"),
    Binding("m", "mute", "mute level", show=False, id="editor.mute",
            tooltip="hear the sound without the cursor's level; again to bring it back"),
    Binding("M", "solo", "solo level", show=False, id="editor.solo",
            tooltip="hear the cursor's level alone; again for every level"),
    Binding("ctrl+g", "generate", "generate", show=False, id="editor.generate", tooltip="a new sound from the prior (the Generate panel sets it up)"),
    Binding("t", "next_panel", "next side panel", show=False, id="editor.next_panel",
            tooltip="Cell, Sounds, Health, Generate: below 100 columns one at a time"),
    Binding("escape", "focus_grid", "back to the grid", show=False, id="editor.focus_grid",
            tooltip="from a side panel's slider, box or button, the keys go back to the grid"),
    Binding("ctrl+s", "save", "save", id="editor.save", tooltip="save the codes (NAME.codes.json)"),
    Binding("e", "export", "export", show=False, id="editor.export", tooltip="write the sound as an audio file"),
]

# ---- everywhere
APP_BINDINGS: list[Binding] = [
    Binding("colon", "command_palette", "commands", id="app.commands", key_display=":"),
    Binding("ctrl+p", "command_palette", "commands", show=False, id="app.commands_ctrl_p"),
    Binding("f1,question_mark", "help", "help", id="app.help", key_display="?"),
    Binding("ctrl+t", "training", "training", show=False, id="app.training",
            tooltip="train a model, or watch a training run"),
    Binding("ctrl+q", "request_quit", "quit", id="app.quit", priority=True),
]

FAMILIES: list[tuple[str, list[str]]] = [
    ("Move", ["grid.left", "grid.down", "grid.up", "grid.right", "grid.beat_forward", "grid.beat_back",
              "grid.line_start", "grid.line_end", "grid.first_level", "grid.last_level"]),
    ("Modes", ["grid.edit_mode", "grid.normal_mode", "grid.visual", "grid.visual_line"]),
    ("Edit", ["editor.nudge_up", "editor.nudge_down", "editor.yank", "editor.paste", "editor.mix_paste",
              "editor.clear", "editor.randomize", "editor.regenerate", "editor.swap_ab", "editor.undo",
              "editor.redo"]),
    ("Sounds", ["editor.play", "editor.loop_play", "editor.ab", "editor.follow", "editor.mute", "editor.solo", "editor.other_slot",
                "editor.next_sound", "editor.previous_sound", "editor.generate", "editor.next_panel",
                "editor.focus_grid"]),
    ("Files", ["editor.save", "editor.export", "app.commands", "app.commands_ctrl_p", "app.help", "app.quit"]),
]

EXTRA_HELP: list[tuple[str, str]] = [
    ("1-9", "count before a move or an edit (4l moves four right)"),
    ("0-9 a-f", "in edit mode: type a code in hex; it overwrites the cell and advances by the edit step"),
    ("tab", "move focus to the side panels (sliders: h/l or arrows) and back; Esc goes straight back to the grid"),
]


@dataclass
class KeymapResult:
    """The user's overrides (id -> keys) and any problems reading them."""

    keymap: dict[str, str]
    problems: list[str]


def all_bindings() -> dict[str, Binding]:
    return {b.id: b for b in (*GRID_BINDINGS, *EDITOR_BINDINGS, *APP_BINDINGS) if b.id}


def load_user_keymap(path: Path | None = None) -> KeymapResult:
    """The `[keymap]` table of `path` (default: the config file); unknown ids and non-string keys are reported and skipped."""
    if path is None:
        path = config_file()
    if not path.is_file():
        return KeymapResult({}, [])
    try:
        with path.open("rb") as fh:
            table = tomllib.load(fh).get("keymap", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return KeymapResult({}, [f"{path}: cannot read the keymap ({exc})"])
    if not isinstance(table, dict):
        return KeymapResult({}, [f"{path}: [keymap] must be a table"])
    known = all_bindings()
    keymap, problems = {}, []
    for key, value in table.items():
        if key not in known:
            problems.append(f"{path}: no binding has the id {key!r}")
        elif not isinstance(value, str) or not value.strip():
            problems.append(f"{path}: keys for {key!r} must be a non-empty string")
        else:
            keymap[key] = value
    return KeymapResult(keymap, problems + [f"{path}: {p}" for p in clashes(keymap)])


def _keys(spec: str) -> set[str]:
    return {k.strip() for k in spec.split(",") if k.strip()}


def clashes(keymap: dict[str, str]) -> list[str]:
    """Keys the overrides give to two bindings that did not share them before, one line each.

    `"editor.play" = "p"` took p from paste without a word: the first binding found for a key runs (the grid's
    before the editor's), so the other is left without that key."""
    defaults = all_bindings()
    owners: dict[str, list[str]] = {}
    for bid, binding in defaults.items():
        for key in _keys(keymap.get(bid, binding.key)):
            owners.setdefault(key, []).append(bid)
    shared_before = {(key, bid) for bid, b in defaults.items() for key in _keys(b.key)
                     if sum(key in _keys(o.key) for o in defaults.values()) > 1}
    lines = []
    for key, ids in owners.items():
        if len(ids) > 1 and any(bid in keymap for bid in ids) and not all((key, bid) in shared_before for bid in ids):
            lines.append(f"{' and '.join(ids)} both have the key {key!r} now, and only one of them can take it: "
                         "give one of them another key")
    return lines


def escape_then(key: str) -> str | None:
    """The key typed after Esc when a terminal merged the two into one "alt+key", else None.

    Terminals send Esc and a key typed within ~100 ms (tmux's escape-time, a fast typist) as one alt+key.
    Distill binds no alt+letter or alt+digit, so such a key is what was typed: Esc, then the key.
    """
    if not key.startswith("alt+"):
        return None
    rest = key[4:]
    return rest if len(rest) == 1 and rest.isalnum() else None
