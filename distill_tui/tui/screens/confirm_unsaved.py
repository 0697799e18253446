"""Unsaved edits before the editor's sounds are replaced (another model opened): Save all / Discard / Cancel.

`UnsavedScreen` is the dialog (it returns "save", "discard" or "cancel" with `dismiss`); `resolve_unsaved`
asks it only when a sound has unsaved edits, saves them when asked, and then runs what was waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from ...errors import DistillError
from ...words import counted
from .dialog import Dialog

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .editor import EditorScreen

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


@dataclass(frozen=True)
class SaveTarget:
    """Where "Save all" writes one sound: its own codes file, or a new file that overwrites nothing."""

    name: str
    path: Path
    own: bool  # the file the sound was opened from or last saved to


def save_targets(ws: Workspace, folder: Path | None = None) -> list[SaveTarget]:
    """One target per sound with unsaved edits. A sound without a codes file goes to `folder/NAME.codes.json`
    (default: the current folder), numbered (`NAME-2.codes.json`) when that name is taken."""
    out: list[SaveTarget] = []
    taken: set[Path] = set()
    for name in ws.dirty_names():
        own = ws.codes_path(name)
        if own is not None:
            out.append(SaveTarget(name, own, True))
            continue
        path = ws.default_codes_path(name, folder, taken)
        taken.add(path)
        out.append(SaveTarget(name, path, False))
    return out


def save_all(ws: Workspace, targets: list[SaveTarget]) -> str | None:
    """Write every target; None when all were written, else the one-line reason the first one failed (those
    before it are written). A codes file another program changed since it was read is not overwritten."""
    for t in targets:
        if t.own and ws.changed_on_disk(t.name, t.path):
            return f"{t.path.name} changed on disk since you opened it: save {t.name} from the editor (ctrl+s)"
        try:
            ws.save(t.name, t.path)
        except DistillError as exc:
            return str(exc)
    return None


def _shown(path: Path) -> str:
    """`path` as the person reads it: from the current folder when it is inside it, else whole."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class UnsavedScreen(Dialog[str]):
    """Lists the sounds with unsaved edits and where Save all writes them; s / d / Esc answer."""

    BINDINGS = [
        Binding("s", "answer('save')", "save all", id="unsaved.save"),
        Binding("d", "answer('discard')", "discard", id="unsaved.discard"),
        Binding("escape,c", "answer('cancel')", "cancel", id="unsaved.cancel"),
    ]
    DEFAULT_CSS = """
    UnsavedScreen { align: center middle; }
    UnsavedScreen > Vertical { width: 76; max-width: 95%; height: auto; border: thick $warning; background: $panel; padding: 1 2; }
    UnsavedScreen #unsaved-question { height: auto; margin-bottom: 1; }
    UnsavedScreen Horizontal { height: auto; align: center middle; }
    UnsavedScreen Button { margin: 0 1; }
    """

    def __init__(self, what: str, targets: list[SaveTarget]) -> None:
        super().__init__()
        self.what, self.targets = what, targets

    def question(self) -> str:
        lines = [f"Unsaved edits. Before {self.what}:"]
        for t in self.targets[:6]:
            lines.append(f"  {t.name} → {_shown(t.path)}{'' if t.own else ' (new file)'}")
        if len(self.targets) > 6:
            lines.append(f"  … and {len(self.targets) - 6} more")
        lines.append("Save all writes them there; Discard drops the edits; Cancel stays here.")
        return "\n".join(lines)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question(), id="unsaved-question", markup=False)
            with Horizontal():
                yield Button("Save all (s)", id=SAVE, variant="primary")
                yield Button("Discard (d)", id=DISCARD, variant="error")
                yield Button("Cancel (Esc)", id=CANCEL)

    def on_mount(self) -> None:
        self.query_one(f"#{SAVE}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id or CANCEL)

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


def resolve_unsaved(editor: EditorScreen, what: str, then: Callable[[], object]) -> None:
    """Run `then()` at once when no sound has unsaved edits; else ask (Save all / Discard / Cancel) and run it
    after saving them all (a failed save says why and runs nothing) or after discarding. `what` completes
    "Before …" (e.g. "opening tiny.distill")."""
    targets = save_targets(editor.ws)
    if not targets:
        then()
        return

    def answered(answer: str | None) -> None:
        if answer == SAVE:
            problem = save_all(editor.ws, targets)
            editor.refresh_panels()
            if problem is not None:
                editor.notify(problem, title="Not saved", severity="error", timeout=10)
                return
            editor.notify(f"saved {counted(len(targets), 'sound')}", timeout=4)
        elif answer != DISCARD:
            return
        then()

    editor.app.push_screen(UnsavedScreen(what, targets), answered)
