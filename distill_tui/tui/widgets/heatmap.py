"""A usage heatmap: one row per quantizer level, one cell per code (or per group of codes when they do not fit)."""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text
from textual.widget import Widget

from ..palette import ramp, step_of

LABEL_W = 4
DEAD = "#3a0000"  # a never-used code: dark red, apart from the ramp


def render_heatmap(usage: list[np.ndarray], width: int, palette: str = "magma", order: list[np.ndarray] | None = None) -> Text:
    """Each level's codes coloured by log usage relative to the level's busiest code; idle (never used) codes dark red."""
    text = Text(no_wrap=True, overflow="crop")
    cols = max(width - LABEL_W, 4)
    colours = ramp(palette)
    for q, counts in enumerate(usage):
        counts = np.asarray(counts, dtype=np.float64)
        if order is not None and q < len(order):
            counts = counts[order[q]]
        k = len(counts)
        group = max(1, math.ceil(k / cols))  # codes per character
        text.append(f"L{q + 1:<{LABEL_W - 2}} ", style="bold")
        top = math.log1p(counts.max()) if counts.size and counts.max() > 0 else 1.0
        for c in range(0, k, group):
            chunk = counts[c:c + group]
            if chunk.max() <= 0:
                text.append("▇", style=DEAD)
                continue
            share = math.log1p(float(chunk.mean())) / top
            text.append("█", style=colours[step_of(share, len(colours))])
        dead = int((counts <= 0).sum())
        text.append(f" {dead} idle" if dead else "", style="dim")
        if q < len(usage) - 1:
            text.append("\n")
    if not usage:
        text.append("no usage counts in this model", style="dim")
    return text


class UsageHeatmap(Widget):
    """Levels x codes at a glance."""

    DEFAULT_CSS = """
    UsageHeatmap { height: auto; padding: 0 1; }
    """

    def __init__(self, usage: list[np.ndarray] | None = None, *, order: list[np.ndarray] | None = None,
                 palette: str = "magma", id: str | None = None) -> None:
        super().__init__(id=id)
        self.usage = usage or []
        self.order = order
        self.palette = palette

    def show(self, usage: list[np.ndarray], order: list[np.ndarray] | None = None) -> None:
        self.usage, self.order = usage, order
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ANN001
        return max(len(self.usage), 1)

    def render(self) -> Text:
        return render_heatmap(self.usage, self.size.width, self.palette, self.order)
