"""The cell inspector: level, position, time, code, what the code sounds like, and how often it is used."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static


@dataclass
class CellInfo:
    """Everything the inspector says about the cell under the cursor."""

    level: int
    label: str
    position: int
    seconds: float
    code: int
    size: int
    description: str = ""
    rank: int | None = None
    usage: int | None = None
    usage_total: int | None = None
    selection: str = ""


class Inspector(Static):
    """Shows a `CellInfo`."""

    DEFAULT_CSS = """
    Inspector { height: auto; min-height: 4; padding: 0 1; }
    """

    def show(self, info: CellInfo | None) -> None:
        self.update(render_cell(info))


def hex_code(code: int, size: int) -> str:
    """`code` in hex, as wide as the largest code of a level with `size` codes (at least two digits)."""
    return f"{code:0{max(len(f'{size - 1:x}'), 2)}x}"


ORDER_WORDS = "dark/soft → bright/loud"  # what a level's perceptual order runs along (analysis/perceptual.py)


def render_cell(info: CellInfo | None) -> Text:
    """The inspector's lines; codes are in hex throughout, as the grid shows them ("code 02 (of 00..3f)")."""
    if info is None:
        return Text("no sound", style="dim")
    t = Text()
    t.append(f"L{info.level + 1} {info.label}", style="bold")
    t.append(f" · pos {info.position} · {info.seconds:.2f} s\n")
    t.append(f"code {hex_code(info.code, info.size)}", style="bold")
    t.append(f" (of {hex_code(0, info.size)}..{hex_code(info.size - 1, info.size)})\n")
    if info.rank is not None:  # its own line: with the code's it would wrap in the side panel
        t.append(f"{info.rank + 1}/{info.size} {ORDER_WORDS}\n", style="dim")
    t.append(f"{info.description or '—'}\n", style="italic")
    if info.usage is not None and info.usage_total:
        t.append(f"used {100 * info.usage / info.usage_total:.1f} % in training ({info.usage}×)", style="dim")
    else:
        t.append("usage unknown", style="dim")
    if info.selection:
        t.append(f"\nselection {info.selection}", style="bold")
    return t
