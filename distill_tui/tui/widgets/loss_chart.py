"""A terminal line chart in Braille dots (2 x 4 per character): loss curves that fit in a panel."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rich.text import Text
from textual.widget import Widget

_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col] within a cell
AXIS_W = 7  # characters for the y labels


@dataclass
class Series:
    """One curve: points (x, y) in data units, drawn in `colour`."""

    name: str
    colour: str
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    def add(self, x: float, y: float) -> None:
        if math.isfinite(x) and math.isfinite(y):
            self.xs.append(float(x))
            self.ys.append(float(y))


def _fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _pixels(s: Series, x0: float, x1: float, y0: float, y1: float, px_w: int, px_h: int) -> list[tuple[int, int]]:
    """The curve in dot coordinates; many points in one dot column become its first, lowest, highest and last."""
    fx, fy = (px_w - 1) / (x1 - x0), (px_h - 1) / (y1 - y0)
    cols: dict[int, list[int]] = {}
    for x, y in zip(s.xs, s.ys, strict=True):
        cols.setdefault(round((x - x0) * fx), []).append(round((y1 - y) * fy))
    out = []
    for px, ys in cols.items():
        if len(ys) <= 4:
            out += [(px, py) for py in ys]
        else:
            lo, hi = min(ys), max(ys)
            out += [(px, ys[0]), (px, lo if ys[0] > hi - (hi - lo) // 2 else hi), (px, hi if ys[0] > hi - (hi - lo) // 2 else lo),
                    (px, ys[-1])]
    return out


def _top(series: list[Series]) -> float:
    """The chart's top: the highest point that is not a lone spike, one over twice both its neighbours (an early
    training step can spike to 125 dB and recover at once; drawn to scale it flattened the rest of the run). A
    spike's line runs off the top edge; a curve's first and last points always count."""
    top = -math.inf
    for s in series:
        ys = s.ys
        for i, y in enumerate(ys):
            if not (0 < i < len(ys) - 1 and y > 0 and y > 2 * max(ys[i - 1], ys[i + 1])):
                top = max(top, y)
    return top


def _since(s: Series, x0: float) -> tuple[list[float], list[float]]:
    i = next((i for i, x in enumerate(s.xs) if x >= x0), len(s.xs))
    return s.xs[i:], s.ys[i:]


def _line(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Bresenham's line from a to b (inclusive)."""
    (x0, y0), (x1, y1) = a, b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err, out = dx + dy, []
    while True:
        out.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return out
        e2 = 2 * err
        if e2 >= dy:
            err, x0 = err + dy, x0 + sx
        if e2 <= dx:
            err, y0 = err + dx, y0 + sy


def _fit(title: str, room: int) -> str:
    """The title in `room` characters: whole, or its first part ("distance to the originals, dB" of
    "... · lower is better"), or "" when not even that fits."""
    if len(title) <= room:
        return title
    head = title.split(" · ")[0]
    return head if len(head) <= room else ""


def render_chart(series: list[Series], width: int, height: int, title: str = "", window: float | None = None) -> Text:
    """The chart as text: the title and the legend (each curve's name and latest value) on one line, or on
    two when the width cannot hold both; then rows of Braille with y labels at the left, `height` rows in all.

    `window`: show only the last this-many x units (the most recent steps)."""
    if window is not None:
        right = max((s.xs[-1] for s in series if s.xs), default=0.0)
        series = [Series(s.name, s.colour, *_since(s, right - window)) for s in series]
    width = max(width, AXIS_W + 4)
    text = Text(no_wrap=True, overflow="crop")
    legend = [(s, f"{s.name}{f' {_fmt(s.ys[-1])}' if s.ys else ''}") for s in series]
    room = width - sum(len(label) + 4 for _, label in legend)  # what the legend leaves the title
    short = _fit(title, room - 2)
    two_lines = bool(title) and not short and height >= 6  # too narrow for both: the title gets a row of its own
    if two_lines:
        text.append(_fit(title, width) or title[: width - 1] + "…", style="bold")
        text.append("\n")
    elif short:
        text.append(short + "  ", style="bold")
    line_start = len(text)
    for s, label in legend:
        text.append("━ ", style=s.colour)
        text.append(f"{label}  ", style="dim" if not s.ys else "")
    if len(text) - line_start > width:  # a legend wider than the chart: cropped, never wrapped onto the curves
        text.right_crop(len(text) - line_start - width)
    text.append("\n")
    rows = max(height - (2 if two_lines else 1), 2)
    cols = width - AXIS_W
    points = [(x, y) for s in series for x, y in zip(s.xs, s.ys, strict=True)]
    if not points:
        for r in range(rows):
            text.append(" " * AXIS_W + ("waiting for data" if r == rows // 2 else ""), style="dim")
            if r < rows - 1:
                text.append("\n")
        return text
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), _top(series)
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5
    if x1 - x0 < 1e-9:
        x1 = x0 + 1
    px_w, px_h = cols * 2, rows * 4
    cells = [[0] * cols for _ in range(rows)]
    owner: list[list[str | None]] = [[None] * cols for _ in range(rows)]

    def dot(px: int, py: int, colour: str) -> None:
        if 0 <= px < px_w and 0 <= py < px_h:
            r, c = py // 4, px // 2
            cells[r][c] |= _BITS[py % 4][px % 2]
            owner[r][c] = colour

    for s in series:
        prev: tuple[int, int] | None = None
        for px, py in _pixels(s, x0, x1, y0, y1, px_w, px_h):
            if prev is not None:
                for qx, qy in _line(prev, (px, py)):
                    dot(qx, qy, s.colour)
            dot(px, py, s.colour)
            prev = (px, py)
    for r in range(rows):
        label = _fmt(y1) if r == 0 else _fmt(y0) if r == rows - 1 else ""
        text.append(f"{label:>{AXIS_W - 1}} ", style="dim")
        run, run_style = [], owner[r][0] or ""
        for c in range(cols):  # one span per run of a colour, not one per character
            style = owner[r][c] or run_style if cells[r][c] else run_style
            if style != run_style:
                text.append("".join(run), style=run_style)
                run, run_style = [], style
            run.append(chr(0x2800 + cells[r][c]) if cells[r][c] else " ")
        text.append("".join(run), style=run_style)
        if r < rows - 1:
            text.append("\n")
    return text


class LossChart(Widget):
    """Curves that grow as events arrive; `refresh()` is cheap (it redraws only this widget)."""

    DEFAULT_CSS = """
    LossChart { height: 8; text-wrap: nowrap; text-overflow: clip; }
    """

    def __init__(self, series: list[Series], title: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series = series
        self.title = title
        self.window: float | None = None  # show only the last this-many steps (None: all)

    def clear(self) -> None:
        for s in self.series:
            s.xs.clear()
            s.ys.clear()
        self.refresh()

    def render(self) -> Text:
        title = self.title + (f" (last {self.window:g} steps)" if self.window else "")
        return render_chart(self.series, self.size.width, self.size.height, title, self.window)
