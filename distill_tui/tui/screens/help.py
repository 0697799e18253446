"""The help screen: every key binding by family, with the key it has now (after the user's keymap)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..keymap import EXTRA_HELP, FAMILIES, all_bindings
from .dialog import Dialog


def key_text(app_keymap: dict[str, str], binding: Binding) -> str:
    keys = app_keymap.get(binding.id or "", binding.key)
    shown = []
    for key in keys.split(","):
        key = key.strip()
        shown.append({"dollar_sign": "$", "question_mark": "?", "colon": ":", "plus": "+", "minus": "-",
                      "equals_sign": "=", "left_square_bracket": "[", "right_square_bracket": "]",
                      # "h left  left": the arrow keys read as the word the description repeats
                      "left": "←", "right": "→", "up": "↑", "down": "↓", "escape": "esc"}.get(key, key))
    return " ".join(shown)


def help_table(keymap: dict[str, str]) -> Table:
    bindings = all_bindings()
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column("key", style="bold", no_wrap=True, width=16)
    table.add_column("what")
    table.add_column("id", style="dim", no_wrap=True)
    for family, ids in FAMILIES:
        table.add_row(Text(family, style="bold underline"), "", "")
        for bid in ids:
            b = bindings[bid]
            table.add_row(key_text(keymap, b), b.tooltip or b.description, bid)
    table.add_row(Text("Also", style="bold underline"), "", "")
    for key, what in EXTRA_HELP:
        table.add_row(key, what, "")
    return table


class HelpScreen(Dialog[None]):
    """Esc, q, ? or F1 closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "close", id="help.close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: 90%; border: thick $primary; background: $panel; }
    HelpScreen #help-intro { padding: 0 1; height: auto; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(
                "Distill — keys. Normal mode moves and edits: an edit acts on the selection (v / V select cells / "
                "whole levels), or else on the cell under the cursor. i or Enter enters edit mode (type hex codes), "
                "Esc returns. Rebind any key by its id in "
                "~/.config/distill-tui/config.toml under [keymap].", id="help-intro", markup=False)
            yield Static(help_table(dict(getattr(self.app, "user_keymap", {}))), id="help-table")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
