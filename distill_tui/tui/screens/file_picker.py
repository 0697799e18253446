"""Choosing a path: a path field with Tab completion, a list of what can be opened there, and a one-line reason
when the typed path cannot be used. `PathPicker` is the widget (the train screen's folder); `FilePickerScreen`
puts it in a dialog (Open model…, Open sound…).

What a picker can open is its `kind`: "folder" (folders only), "model" (`.distill` files) or "sound" (audio
files and `.codes.json` files). Folders are always listed, to walk through; hidden ones only when the typed
name starts with a dot.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical
from textual.events import Key
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ...audio.io import is_audio_file
from ...data.audio_files import count_audio
from ...train.runs import is_run_dir
from ...words import counted, distinct_shortened
from .dialog import Dialog

FOLDER, MODEL, SOUND = "folder", "model", "sound"
WHAT = {FOLDER: "a folder", MODEL: "a model file (.distill)",
        SOUND: "a sound (wav, flac, ogg, mp3, aiff…) or a codes file (.codes.json)"}
MAX_ENTRIES = 400  # listed per folder (a huge folder is cut, and says so)
# A name wider than the list is cut around what tells it from its neighbours (`distinct_shortened`; the CSS's
# ellipsis is the last guard): a 100-character sample name took two lines and read as two files.
FALLBACK_WIDTH = 76  # the list's width before it is laid out
USE, PARENT, DIR, FILE = "use", "parent", "dir", "file"
# How long the count of sounds below a folder may look, in CPU time of its thread. It runs in a thread, so it can take
# longer than a keystroke's handler could (50 ms there), and a busy machine slows it instead of cutting it short: under
# the CI's load 50 ms of wall time read "5+ sounds" of a folder holding 7.
COUNT_SECONDS = 0.5
USE_FOLDER = " · Enter: use this folder"  # how the message line of a folder picker ends


@dataclass(frozen=True)
class Entry:
    """One line of the list: use this folder, go to the parent, go into a folder, or open a file."""

    label: str
    path: Path
    role: str
    short: str = ""  # what it says where the label does not fit ("✓ use this folder"): a phrase is not cut


@dataclass(frozen=True)
class Completion:
    """What Tab makes of the typed text: the completed text, and every name that still matches."""

    text: str
    candidates: list[str]


def opens(path: Path, kind: str) -> bool:
    """A file this picker's kind can open (by its name)."""
    if kind == MODEL:
        return path.suffix.lower() == ".distill"
    if kind == SOUND:
        return path.name.lower().endswith(".codes.json") or is_audio_file(path)
    return False


def restart(text: str) -> str:
    """Typing `/` or `~/` after a path starts a new one there (as Emacs reads "a/b//c" as "/c"): the field
    keeps what follows the last "//" or "/~"."""
    cut = max(text.rfind(os.sep + os.sep), text.rfind(os.sep + "~"))
    return text[cut + 1:] if cut >= 0 else text


def resolve(text: str, base: Path) -> Path:
    """The typed text as a path: `~` expanded, relative to `base`."""
    path = Path(os.path.expanduser(text.strip() or "."))
    return path if path.is_absolute() else base / path


def split_typed(text: str, base: Path) -> tuple[Path, str]:
    """(the folder being listed, the start of a name typed in it): "sounds/ki" -> (base/sounds, "ki")."""
    text = os.path.expanduser(text)
    if not text or text.endswith(os.sep):
        return resolve(text, base), ""
    head, tail = os.path.split(text)
    return resolve(head, base) if head else base, tail


def list_folder(folder: Path, kind: str, prefix: str = "") -> tuple[list[Entry], bool]:
    """What `folder` holds that the picker can use, names starting with `prefix` (case-insensitive): its
    folders (for a folder of sounds, not Distill's run folders), then the files `kind` opens, each sorted; and
    whether the list was cut at `MAX_ENTRIES`."""
    dirs: list[Entry] = []
    files: list[Entry] = []
    low = prefix.lower()
    try:
        with os.scandir(folder) as it:
            for item in it:
                if not item.name.lower().startswith(low) or (item.name.startswith(".") and not prefix.startswith(".")):
                    continue
                try:
                    is_dir = item.is_dir()
                except OSError:
                    continue
                if is_dir:
                    if kind == FOLDER and is_run_dir(Path(item.path)):
                        continue  # Distill's own run folder beside the model: not a folder of sounds
                    dirs.append(Entry(item.name + os.sep, Path(item.path), DIR))
                elif opens(Path(item.name), kind):
                    files.append(Entry(item.name, Path(item.path), FILE))
    except OSError:
        return [], False
    found = sorted(dirs, key=lambda e: e.label.lower()) + sorted(files, key=lambda e: e.label.lower())
    return found[:MAX_ENTRIES], len(found) > MAX_ENTRIES


def sounds_below(n: int, complete: bool) -> str:
    """The picker's words for `count_audio`'s answer: "3 sounds in it and below", "1000+ …", and for a folder too
    big to look through at a keystroke (the root, a home folder) not "0+" but that it was not counted."""
    if complete:
        return f"{counted(n, 'sound')} in it and below"
    return f"{n}+ sounds in it and below" if n else "too many files below it to count the sounds"


def complete(text: str, kind: str, base: Path) -> Completion:
    """Tab: the typed name extended to what every match shares (a lone folder gets its `/`)."""
    folder, prefix = split_typed(text, base)
    entries, _ = list_folder(folder, kind, prefix)
    names = [e.label for e in entries]
    if not names:
        return Completion(text, [])
    if len(names) == 1:
        common = names[0]
    else:
        common = os.path.commonprefix([n.lower() for n in names])
        common = names[0][:len(common)]  # the first match's own case
    if len(common) <= len(prefix):
        return Completion(text, names)
    return Completion(text[:len(text) - len(prefix)] + common, names)


def refusal(path: Path, kind: str) -> str | None:
    """Why `path` cannot be opened by this picker (one line), or None when it can."""
    if not path.exists():
        return f"{path} does not exist"
    if kind == FOLDER:
        return None if path.is_dir() else f"{path.name} is a file: choose {WHAT[FOLDER]}"
    if path.is_dir():
        return f"{path.name} is a folder: choose {WHAT[kind]} in it"
    if not opens(path, kind):
        return f"{path.name} is not {WHAT[kind]}"
    if not os.access(path, os.R_OK):
        return f"{path.name} cannot be read (permissions)"
    return None


class PathPicker(Vertical):
    """The path field (Tab completes, Enter opens), the list (Enter goes in or opens, Backspace goes up), and a
    message line. Posts `PathPicker.Picked` with a path its kind can open."""

    BINDINGS = [
        Binding("tab", "complete", "complete", show=False, id="picker.complete"),
        Binding("backspace", "parent", "parent folder", show=False, id="picker.parent"),
        Binding("down", "to_list", "the list", show=False, id="picker.to_list"),
    ]
    DEFAULT_CSS = """
    PathPicker { height: 1fr; }
    PathPicker #picker-input { height: 3; }
    PathPicker #picker-message { height: auto; color: $text-muted; padding: 0 1; }
    PathPicker #picker-message.-bad { color: $error; text-style: bold; }
    PathPicker #picker-list { height: 1fr; min-height: 3; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    @dataclass
    class Picked(Message):
        """The user chose `path` (it exists and the picker's kind opens it)."""

        picker: PathPicker
        path: Path

        @property
        def control(self) -> PathPicker:
            return self.picker

    def __init__(self, kind: str, start: str | Path | None = None, *, base: Path | None = None,
                 id: str | None = None) -> None:  # noqa: A002 - Textual's own keyword
        super().__init__(id=id)
        self.kind = kind
        self.base = base or Path.cwd()
        text = str(start) if start is not None else str(self.base)
        if text in (".", "./") or text.startswith("~"):
            text = str(resolve(text, self.base))  # "." or "~" shown as the folder they are; other paths as given
        if kind == FOLDER or Path(text).is_dir():
            text = text.rstrip(os.sep) + os.sep
        self.start_text = text
        self.entries: list[Entry] = []
        self.message = ""
        self.picked_text: str | None = None  # the field's text when Enter last chose a path

    def compose(self) -> ComposeResult:
        yield Input(self.start_text, placeholder=f"type a path to {WHAT[self.kind]}; Tab completes", id="picker-input",
                    select_on_focus=False)  # typing adds to the folder shown, never replaces it
        yield Static("", id="picker-message", markup=False)
        yield OptionList(id="picker-list")

    @property
    def input(self) -> Input:
        return self.query_one("#picker-input", Input)

    @property
    def options(self) -> OptionList:
        return self.query_one("#picker-list", OptionList)

    def on_mount(self) -> None:
        self.refresh_list()

    def say(self, text: str, bad: bool = False) -> None:
        """The line under the field: what is listed, or why the typed path cannot be used."""
        self.message = text
        widget = self.query_one("#picker-message", Static)
        widget.update(text)
        widget.set_class(bad, "-bad")

    # ---- the list
    def refresh_list(self) -> None:
        folder, prefix = split_typed(self.input.value, self.base)
        entries, cut = list_folder(folder, self.kind, prefix)
        head: list[Entry] = []
        if self.kind == FOLDER and folder.is_dir() and not prefix:
            head.append(Entry(f"✓ use this folder ({folder.resolve().name or folder})", folder, USE, "✓ use this folder"))
        if folder.resolve().parent != folder.resolve():
            head.append(Entry(f"..{os.sep}  (parent folder)", folder.resolve().parent, PARENT, f"..{os.sep}"))
        self.entries = head + entries
        self._show_entries()
        if self.entries:  # the first thing to open (in a folder picker: "use this folder")
            self.options.highlighted = 0 if self.kind == FOLDER or not entries else len(head)
        if not folder.is_dir():
            self.say(f"{folder} is not a folder", bad=True)
        elif self.kind == FOLDER and not prefix:
            folders = f"{len(entries)}{'+' if cut else ''} {'folder' if len(entries) == 1 and not cut else 'folders'}"
            self.say(folders + USE_FOLDER)
            self._count_sounds(folder, folders)
        elif not entries:
            self.say(f"nothing here matches {prefix!r}" if prefix else f"nothing to open here ({WHAT[self.kind]})")
        else:
            self.say(f"{len(entries)}{'+' if cut else ''} here · Tab completes · Enter opens")

    @work(thread=True, exclusive=True, group="picker-count", exit_on_error=False)
    def _count_sounds(self, folder: Path, folders: str) -> None:
        """The sounds in `folder` and below, counted off the event loop (up to 50-90 ms for "/" or "/etc"): while a
        keystroke's handler counted, the keys typed meanwhile were handled out of order (a Backspace bubbles to
        its binding later than a letter reaches the field), so holding Backspace then typing "/tmp/pd20" gave
        "tmp/pd20". Said when the field still shows that folder."""
        words = sounds_below(*count_audio(folder, seconds=COUNT_SECONDS, clock=time.thread_time))
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._counted, folder, f"{folders}, {words}{USE_FOLDER}")

    def _counted(self, folder: Path, text: str) -> None:
        if split_typed(self.input.value, self.base) == (folder, ""):
            self.say(text)

    def _show_entries(self) -> None:
        """The entries as the list's options, each name fitted to one line (cut around what tells it apart)."""
        width = (self.options.scrollable_content_region.width or FALLBACK_WIDTH) - 2  # its padding, a scroll bar
        width = max(width, 12)
        fitted = distinct_shortened([e.label for e in self.entries if not e.short], width)
        self.options.set_options([Option(e.short if e.short and len(e.label) > width else fitted.get(e.label, e.label))
                                  for e in self.entries])

    def on_resize(self) -> None:
        highlighted = self.options.highlighted
        self._show_entries()
        if highlighted is not None and self.entries:
            self.options.highlighted = min(highlighted, len(self.entries) - 1)

    def go_to(self, folder: Path) -> None:
        """List `folder` (the field shows it, ending in `/`)."""
        self.input.value = str(folder).rstrip(os.sep) + os.sep
        self.input.cursor_position = len(self.input.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        fresh = restart(event.value)
        if fresh != event.value:  # a new path typed after the old one: the field starts over (changes again)
            self.input.value = fresh
            self.input.cursor_position = len(fresh)
            return
        self.refresh_list()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        entry = self.entries[event.option_index]
        if entry.role in (PARENT, DIR):
            self.go_to(entry.path)
        else:
            self.pick(entry.path)

    # ---- keys
    def action_complete(self) -> None:
        """Tab in the field: complete the typed name; when there is nothing to add, Tab moves on as usual."""
        if self.screen.focused is not self.input:
            self.screen.focus_next()
            return
        if self.input.value == self.picked_text:  # the path was chosen (Enter): Tab goes on to the next field
            self.focus_past_picker()
            return
        done = complete(self.input.value, self.kind, self.base)
        if done.text != self.input.value:
            self.input.value = done.text
            self.input.cursor_position = len(done.text)
        elif len(done.candidates) > 1 and split_typed(self.input.value, self.base)[1]:
            self.say(f"{len(done.candidates)} match: " + "  ".join(done.candidates[:8])
                     + ("  …" if len(done.candidates) > 8 else ""))
        else:
            self.screen.focus_next()

    def focus_past_picker(self) -> None:
        """Focus the first field after this picker, past its own list and any scrolling container."""
        chain = self.screen.focus_chain
        after = chain[chain.index(self.input) + 1 :] if self.input in chain else []
        for widget in after:
            box = isinstance(widget, ScrollableContainer) and bool(widget.children)  # a scrolling box of fields
            if self not in widget.ancestors and not box:
                widget.focus()
                return
        self.screen.focus_next()

    def on_key(self, event: Key) -> None:
        """Typing while the list has the keys goes on in the field (the list filters as you type)."""
        if self.screen.focused is self.options and event.is_printable and event.character:
            event.stop()
            self.input.focus()
            self.input.insert_text_at_cursor(event.character)

    def action_to_list(self) -> None:
        """Down in the field: into the list (the list's own Down moves in it)."""
        self.options.focus()

    def action_parent(self) -> None:
        """Backspace in the list: the parent folder (in the field, Backspace deletes a character)."""
        if self.screen.focused is self.input:
            self.input.action_delete_left()
            return
        folder, _ = split_typed(self.input.value, self.base)
        self.go_to(folder.resolve().parent)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = resolve(event.value, self.base)
        if path.is_dir() and self.kind != FOLDER:
            self.go_to(path)
            return
        self.pick(path)

    def pick(self, path: Path) -> None:
        """Post `Picked`, or say (in red, one line) why the path cannot be used and stay open."""
        reason = refusal(path, self.kind)
        if reason is not None:
            self.say(reason, bad=True)
            return
        self.picked_text = self.input.value
        self.post_message(self.Picked(self, path))


class FilePickerScreen(Dialog[Path | None]):
    """A `PathPicker` in a dialog: returns the chosen path, or None on Esc."""

    BINDINGS = [Binding("escape", "cancel", "cancel", id="file_picker.cancel")]
    DEFAULT_CSS = """
    FilePickerScreen { align: center middle; }
    FilePickerScreen > Vertical { width: 90; max-width: 95%; height: 80%; border: thick $primary; background: $panel; padding: 0 1; }
    FilePickerScreen #picker-title { height: auto; text-style: bold; }
    FilePickerScreen #picker-help { height: auto; color: $text-muted; }
    """

    def __init__(self, title: str, kind: str, start: str | Path | None = None) -> None:
        super().__init__()
        self.title_text, self.kind, self.start = title, kind, start

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="picker-title", markup=False)
            yield PathPicker(self.kind, self.start, id="picker")
            yield Static("Tab: complete · ↓: the list (Enter: open or go in, Backspace: up) · Esc: cancel",
                         id="picker-help")

    def on_mount(self) -> None:
        self.query_one(PathPicker).input.focus()

    def on_path_picker_picked(self, event: PathPicker.Picked) -> None:
        event.stop()
        self.dismiss(event.path)

    def action_cancel(self) -> None:
        self.dismiss(None)
