"""A spectrogram strip of the decoded sound, drawn with half-block characters (two pixels a cell, any terminal).

Its columns line up with the code grid above it: the same label gutter, the same cell width and the
same horizontal scroll, so a code and the sound it makes sit one above the other.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from ..palette import GridColours, ramp

LEVELS = 16  # colour steps
RANGE_DB = 70.0  # the loudest 70 dB are drawn; anything quieter is the darkest colour


class SpectrogramStrip(Widget):
    """Half-block spectrogram, log-frequency (low at the bottom), aligned to the grid's columns."""

    DEFAULT_CSS = """
    SpectrogramStrip { height: 1fr; min-height: 2; background: $surface; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.db: np.ndarray | None = None  # (F, T) relative dB
        self.sample_rate = 22050
        self.stride = 4
        self.cell_width = 3
        self.label_width = 13
        self.offset_x = 0
        self.colours = GridColours()
        self.placeholder = ""
        self._image: np.ndarray | None = None  # (2 * rows, columns) colour indices
        self._cache: dict[tuple[int, int, int], Strip] = {}

    def show(self, db: np.ndarray | None, *, sample_rate: int, stride: int, cell_width: int, label_width: int) -> None:
        self.db = db
        self.sample_rate, self.stride, self.cell_width, self.label_width = sample_rate, stride, cell_width, label_width
        self._image = None
        self._cache.clear()
        self.refresh()

    def set_scroll(self, x: int) -> None:
        if x != self.offset_x:
            self.offset_x = x
            self.refresh()

    def set_colours(self, colours: GridColours) -> None:
        self.colours = colours
        self._cache.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._image = None
        self._cache.clear()

    def _build(self, rows: int) -> np.ndarray | None:
        db = self.db
        if db is None or db.size == 0 or rows <= 0:
            return None
        n_bins, frames = db.shape
        pixels = rows * 2
        nyquist = self.sample_rate / 2
        lo = np.log(40.0)
        edges = np.exp(np.linspace(np.log(nyquist), lo, pixels + 1))  # (pixels + 1,) top (high) first
        bins = np.clip((edges / nyquist * (n_bins - 1)).astype(int), 0, n_bins - 1)
        # each pixel row takes the loudest bin in its band, so thin partials stay visible
        band = np.stack([db[min(bins[i + 1], bins[i]) : max(bins[i], bins[i + 1]) + 1].max(axis=0)
                         for i in range(pixels)])  # (pixels, T)
        cols = max(frames // max(self.stride, 1), 1) * self.cell_width
        frame_of = np.minimum((np.arange(cols) * self.stride) // self.cell_width, frames - 1)  # (cols,)
        image = band[:, frame_of]  # (pixels, cols)
        top = float(image.max()) if image.size else 0.0
        scaled = (image - (top - RANGE_DB)) / RANGE_DB
        return np.clip((scaled * LEVELS).astype(int), 0, LEVELS - 1).astype(np.uint8)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if self._image is None or self._image.shape[0] != 2 * self.size.height:  # a resize may draw before on_resize
            self._image = self._build(self.size.height)
            self._cache.clear()
        image = self._image
        if image is None:
            text = f"  {self.placeholder}" if y == 0 else ""
            return Strip([Segment(text, base)]).extend_cell_length(width, base).crop(0, width)
        key = (y, self.offset_x, width)
        strip = self._cache.get(key)
        if strip is not None:
            return strip
        view = max(width - self.label_width, 0)
        colours = ramp(self.colours.spectrogram_palette, LEVELS)
        gutter = ""
        if y == 0:
            gutter = f" {self.sample_rate / 2000:.0f} kHz"
        elif y == self.size.height - 1:
            gutter = " 40 Hz"
        segs = [Segment(gutter[: self.label_width].ljust(self.label_width), base + Style(color=self.colours.ruler))]
        top, bottom = image[2 * y], image[2 * y + 1]
        x0, x1 = self.offset_x, min(self.offset_x + view, image.shape[1])
        x = x0
        while x < x1:
            t, b = top[x], bottom[x]
            run = x + 1
            while run < x1 and top[run] == t and bottom[run] == b:
                run += 1
            segs.append(Segment("▀" * (run - x), Style(color=colours[t], bgcolor=colours[b])))
            x = run
        strip = Strip(segs).extend_cell_length(width, base).crop(0, width)
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = strip
        return strip
