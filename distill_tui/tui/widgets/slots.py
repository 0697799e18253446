"""The A/B slots and the list of open sounds (Enter puts a sound in A, b puts it in B)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...words import distinct_shortened

FALLBACK_WIDTH = 30  # the panel's width before it is laid out


@dataclass
class SlotRow:
    name: str
    dirty: bool
    slot: str  # "A", "B" or ""
    seconds: float


class SoundList(OptionList):
    """Enter or a click puts the highlighted sound in A; b puts it in B."""

    BINDINGS = [Binding("b", "to_slot('B')", "to B", id="slots.to_b")]

    @dataclass
    class Chosen(Message):
        name: str
        slot: str

    def _on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(event.option.id, "A"))

    def action_to_slot(self, slot: str) -> None:
        if self.highlighted is None:
            return
        option = self.get_option_at_index(self.highlighted)
        if option.id:
            self.post_message(self.Chosen(option.id, slot))


class SlotsPanel(Vertical):
    """A and B at the top, then every open sound."""

    DEFAULT_CSS = """
    SlotsPanel { height: auto; }
    SlotsPanel > #slots-ab { height: auto; padding: 0 1; text-wrap: nowrap; }
    SlotsPanel > SoundList { height: auto; max-height: 8; border: none; padding: 0; text-wrap: nowrap; }
    """
    # a name longer than the panel is cut (`distinct_shortened`: in the middle, or around what tells it from the
    # others) so that a sound takes one line of the list and its length stays in view; a 100-character sample
    # name took four lines of each.

    _rows: list[SlotRow] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="slots-ab")
        yield SoundList(id="sound-list")

    def show(self, rows: list[SlotRow]) -> None:
        self._rows = rows
        width = self.size.width or FALLBACK_WIDTH
        names = [r.name for r in rows]
        room = max(width - 6, 8)  # the list's mark (2), a space, and room for its scroll bar
        short = distinct_shortened(names, room)
        fits = {room: short}  # names fitted to a width, each width worked out once
        ab = Text()
        for slot in ("A", "B"):
            row = next((r for r in rows if r.slot == slot), None)
            ab.append(f"{slot} ", style="bold reverse" if slot == "A" else "bold")
            if row is None:
                ab.append("—\n", style="dim")
            else:
                tail = f" {row.seconds:.1f}s" + (" ● unsaved" if row.dirty else "")
                fit = max(width - 4 - len(tail), 8)
                if fit not in fits:
                    fits[fit] = distinct_shortened(names, fit)
                ab.append(fits[fit][row.name], style="bold" if slot == "A" else "")
                ab.append(f" {row.seconds:.1f}s")
                ab.append(" ● unsaved\n" if row.dirty else "\n", style="yellow")
        ab.rstrip()
        self.query_one("#slots-ab", Static).update(ab)
        lst = self.query_one(SoundList)
        highlighted = lst.highlighted
        # in one call: an option at a time re-sized the list's scroll area once per sound, and a folder of
        # 200 sounds, which calls this once per sound opened, spent 17 s of the interface's time in it
        lst.set_options([Option(f"{r.slot or ' '}{'●' if r.dirty else ' '} {short[r.name]}", id=r.name)
                         for r in rows])
        if highlighted is not None and rows:
            lst.highlighted = min(highlighted, len(rows) - 1)

    def on_resize(self) -> None:
        if self._rows is not None:
            self.show(self._rows)
