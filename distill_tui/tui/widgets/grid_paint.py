"""The code grid's painting that needs no widget: what the grid is shown with, the time ruler, colour steps,
cell styles, level labels and the playhead mark.

`CodeGridView` (code_grid.py) caches what these return and turns it into segments and strips.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from ..palette import GridColours, ramp, step_of, text_on

PLACEHOLDER_LINES = 3  # the most an empty grid's message takes
NICE_SECONDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)


@dataclass
class GridLook:
    """What the grid needs besides the codes: level labels and each code's place in its level's order."""

    labels: list[str]
    ranks: list[np.ndarray] | None = None  # ranks[q][code] = 0..K-1 along the perceptual order; None: by index


def ruler_text(positions: int, seconds_per_position: float, cell_width: int, beat: int) -> str:
    """The time ruler over `positions` cells: a dot on every beat, `|0.5s`-style marks at a readable spacing."""
    chars = [" "] * (positions * cell_width)
    for p in range(0, positions, max(beat, 1)):
        chars[p * cell_width] = "·"
    spp = seconds_per_position
    step = next((s for s in NICE_SECONDS if s / spp * cell_width >= 7), NICE_SECONDS[-1])
    k = 0
    while (p := int(round(k * step / spp))) < positions:
        label = f"|{k * step:g}s"
        x = p * cell_width
        if x + len(label) <= len(chars):
            chars[x : x + len(label)] = list(label)
        k += 1
    return "".join(chars)


def colour_steps(codebook_sizes: Sequence[int], ranks: list[np.ndarray] | None, steps: int) -> list[np.ndarray]:
    """Per level, each code's step (0..steps-1) on the colour ramp: by its perceptual rank, else by its index."""
    out = []
    for q, k in enumerate(codebook_sizes):
        r = ranks[q] if ranks is not None and q < len(ranks) and len(ranks[q]) == k else np.arange(k)
        out.append(np.minimum(np.asarray(r) * steps // max(k, 1), steps - 1))
    return out


def cell_style(colours: GridColours, steps: np.ndarray | None, code: int, muted: bool) -> Style:
    """A cell's colours: the code's step on the theme's ramp (`colour_steps`), or the muted level's colours."""
    if muted:
        return Style(color=colours.muted_text, bgcolor=colours.muted)
    idx = int(steps[code]) if steps is not None and 0 <= code < len(steps) else step_of(0.0)
    bg = ramp(colours.code_palette)[idx]
    return Style(color=text_on(bg), bgcolor=bg)


def label_text(q: int, name: str, muted: bool, width: int) -> str:
    """A level's gutter label: its number, × when muted, its name, cut to `width` - 1 and padded."""
    return f"{q + 1:>2}{'×' if muted else ' '}{name}"[: width - 1].ljust(width)


def mark_playhead(ruler: Strip, x: int, view: int, style: Style) -> Strip:
    """`ruler` with a ▼ at column `x`; unchanged when `x` is outside [0, view)."""
    if not 0 <= x < view:
        return ruler
    parts = ruler.divide([x, x + 1])
    return Strip.join([parts[0], Strip([Segment("▼", style)], 1), *parts[2:]])


def placeholder_line(text: str, y: int, width: int) -> str:
    """Row `y` of an empty grid `width` wide: its message from row 1, wrapped (at 80 columns it was cut mid-word)."""
    lines = textwrap.wrap(text, max(width - 3, 12))[:PLACEHOLDER_LINES]
    return f"  {lines[y - 1]}" if 1 <= y <= len(lines) else ""


def overlay_marks(c: GridColours, q: int, c0: int, c1: int, playhead: int | None, selection: Any,
                  cursor: tuple[int, int]) -> dict[int, Style]:
    """The styles drawn over row `q`'s cells [c0, c1): playhead, then selection (a `Selection` or None), then
    the cursor (level, position) on top; by position."""
    marks: dict[int, Style] = {}
    if playhead is not None and c0 <= playhead < c1:
        marks[playhead] = Style(color=text_on(c.playhead), bgcolor=c.playhead)
    if selection is not None and selection.level_start <= q < (selection.level_stop or 0):
        style = Style(color=c.selection_text, bgcolor=c.selection, underline=True)
        for p in range(max(selection.pos_start, c0), min(selection.pos_stop or 0, c1)):
            marks[p] = style
    level, pos = cursor
    if q == level and c0 <= pos < c1:
        marks[pos] = Style(color=c.cursor_text, bgcolor=c.cursor, bold=True)
    return marks
