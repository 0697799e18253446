"""The base of the editor's dialogs (questions, confirmations, the file picker, unsaved edits, variations, help)."""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A modal screen over the editor. The notices on screen are cleared when it opens: one drawn over it (the
    12-s start-up notice about sound, or "wrote …" after space without a sound library, at 80 x 24) hid what was
    typed, the buttons to answer with, or the keys the help lists."""

    def on_mount(self) -> None:  # besides a subclass's own on_mount: Textual calls the handlers along the MRO
        self.app.clear_notifications()
