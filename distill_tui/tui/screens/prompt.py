"""A one-line question (a path, a number, a name) with a default; returns the text, or None on Esc."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from .dialog import Dialog


class PromptScreen(Dialog[str | None]):
    """Enter accepts (the default when nothing was typed), Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "cancel", id="prompt.cancel")]
    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 70; max-width: 95%; height: auto; border: thick $primary; background: $panel; padding: 0 1; }
    PromptScreen #prompt-title { height: auto; text-style: bold; }
    PromptScreen #prompt-help { height: auto; color: $text-muted; }
    """

    def __init__(self, title: str, default: str = "", help: str = "") -> None:
        super().__init__()
        self.title_text, self.default, self.help_text = title, default, help

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="prompt-title")
            yield Input(value=self.default, id="prompt-input")
            yield Static(self.help_text or "Enter: accept · Esc: cancel", id="prompt-help")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
