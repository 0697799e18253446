"""The code grid: a Line-API `ScrollView` (cached row segments, `refresh(region)` for the cells that changed).

Rows are quantizer levels (labels in a fixed gutter), columns are positions under a time ruler; each cell
shows its code in hex on a colour from the code's place in its level's perceptual order. The widget owns the
cursor, the modes and the keys that only move or type (counts, `gg`, hex entry); edits are the screen's.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...codes.grid import CodeGrid
from ...codes.selection import Selection
from ..keymap import GRID_BINDINGS, escape_then
from ..messages import CodeTyped, CursorMoved, ModeChanged
from ..palette import GridColours, ramp
from . import grid_paint
from .grid_paint import GridLook, cell_style, colour_steps, label_text, mark_playhead, ruler_text

NORMAL, EDIT, VISUAL, VISUAL_LINE = "NORMAL", "EDIT", "VISUAL", "VISUAL LINE"
HEX = "0123456789abcdef"


class CodeGridView(ScrollView, can_focus=True):
    """The grid of one sound. `doc` is shared with the editor's workspace: the screen edits it, then tells
    the view which cells changed (`cells_changed`), so only those cells are rebuilt and repainted."""

    BINDINGS: list[Binding] = GRID_BINDINGS  # type: ignore[assignment]
    DEFAULT_CSS = """
    CodeGridView { height: 5; max-height: 20; background: $surface;
                   scrollbar-size-horizontal: 1; scrollbar-size-vertical: 1; }
    """
    LABEL_WIDTH = 13

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.doc: CodeGrid | None = None
        self.look = GridLook(labels=[])
        self.colours = GridColours()
        self.muted: set[int] = set()
        self.level = 0
        self.pos = 0
        self.mode = NORMAL
        self.anchor: tuple[int, int] | None = None
        self.playhead: int | None = None
        self.beat = 4  # positions per beat (w / b)
        self.edit_step = 1
        self.placeholder = "loading…"
        self._count = ""
        self._prefix: str | None = None
        self._typed = ""
        self._rows: dict[int, list[Segment]] = {}
        self._styles: dict[tuple[int, int, bool], Style] = {}
        self._ruler: Strip | None = None
        self._steps: list[np.ndarray] = []

    # ------------------------------------------------------------------ document
    @property
    def cell_width(self) -> int:
        return self.digits + 1

    @property
    def digits(self) -> int:
        """Hex digits a cell shows: enough for the largest code, at least 2."""
        return 2 if self.doc is None else max(len(f"{max(self.doc.codebook_sizes) - 1:x}"), 2)

    def set_document(self, doc: CodeGrid | None, look: GridLook | None = None, muted: set[int] | None = None) -> None:
        """Show another grid (or the same one after a resize); keeps the cursor where it still fits."""
        self.doc = doc
        if look is not None:
            self.look = look
        self.muted = set(muted or ())
        self._typed = ""
        self.invalidate()
        if doc is None:
            self.virtual_size = Size(0, 0)
            self.styles.height = grid_paint.PLACEHOLDER_LINES + 2  # a blank row, the placeholder's lines, the border
        else:
            self.level = min(self.level, doc.levels - 1)
            self.pos = min(self.pos, doc.positions - 1)
            if self.anchor is not None:
                self.anchor = (min(self.anchor[0], doc.levels - 1), min(self.anchor[1], doc.positions - 1))
            self.virtual_size = Size(self.LABEL_WIDTH + doc.positions * self.cell_width, doc.levels + 1)
            self.styles.height = doc.levels + 3  # the ruler, the levels, the scrollbar, the border
        self.refresh(layout=True)
        self._cursor_moved()

    def set_colours(self, colours: GridColours) -> None:
        self.colours = colours
        self.invalidate()
        self.refresh()

    def set_muted(self, muted: set[int]) -> None:
        changed = self.muted ^ set(muted)
        self.muted = set(muted)
        for q in changed:
            self._rows.pop(q, None)
            self._refresh_row(q)

    def invalidate(self) -> None:
        """Forget every cached row (new grid, new colours, new perceptual order)."""
        self._rows.clear()
        self._styles.clear()
        self._ruler = None
        self._steps = []
        if self.doc is not None:
            steps = len(ramp(self.colours.code_palette))
            self._steps = colour_steps(self.doc.codebook_sizes, self.look.ranks, steps)

    def cells_changed(self, sel: Selection, resized: bool = False) -> None:
        """The codes in `sel` (clipped) changed: rebuild those cells only, and repaint them."""
        doc = self.doc
        if doc is None:
            return
        if resized:
            self.set_document(doc)
            return
        sel = sel.clip(doc.levels, doc.positions)
        if sel.empty:
            return
        width = sel.shape[1]
        for q in range(sel.level_start, sel.level_stop or 0):
            row = self._rows.get(q)
            if row is not None:
                if width > 64:
                    self._rows.pop(q)
                else:
                    for p in range(sel.pos_start, sel.pos_stop or 0):
                        row[p] = self._cell(q, p)
        self._refresh_cells(sel)

    # ------------------------------------------------------------------ selection and counts
    @property
    def selection(self) -> Selection:
        """The visual selection, or the cursor cell (clipped to the grid)."""
        doc = self.doc
        levels, positions = (doc.levels, doc.positions) if doc is not None else (1, 1)
        if self.mode == VISUAL and self.anchor is not None:
            a_l, a_p = self.anchor
            sel = Selection(min(a_l, self.level), max(a_l, self.level) + 1, min(a_p, self.pos), max(a_p, self.pos) + 1)
        elif self.mode == VISUAL_LINE and self.anchor is not None:
            sel = Selection(min(self.anchor[0], self.level), max(self.anchor[0], self.level) + 1, 0, None)
        else:
            sel = Selection.cell(self.level, self.pos)
        return sel.clip(levels, positions)

    @property
    def has_selection(self) -> bool:
        return self.mode in (VISUAL, VISUAL_LINE)

    @property
    def count_pending(self) -> str:
        return self._count

    @property
    def typed(self) -> str:
        return self._typed

    def take_count(self) -> int:
        n = int(self._count) if self._count else 1
        self._count = ""
        return max(n, 1)

    def end_selection(self) -> None:
        """Back to normal mode after an operation on the selection, the cursor at its start (as vim does)."""
        if self.has_selection:
            sel = self.selection
            self.set_mode(NORMAL)
            self.move_to(sel.level_start, sel.pos_start)

    def set_mode(self, mode: str) -> None:
        old_sel = self.selection
        if mode in (VISUAL, VISUAL_LINE) and self.mode not in (VISUAL, VISUAL_LINE):
            self.anchor = (self.level, self.pos)
        if mode in (NORMAL, EDIT):
            self.anchor = None
        self.mode = mode
        self._typed = ""
        self._count = ""
        self._refresh_cells(old_sel.union(self.selection) if not old_sel.empty else self.selection)
        self.refresh(Region(0, 0, self.LABEL_WIDTH, 1))
        self.post_message(ModeChanged(mode))
        self._cursor_moved()

    # ------------------------------------------------------------------ moving
    def move_to(self, level: int, pos: int) -> None:
        doc = self.doc
        if doc is None:
            return
        level = min(max(level, 0), doc.levels - 1)
        pos = min(max(pos, 0), doc.positions - 1)
        if (level, pos) == (self.level, self.pos):
            return
        old = self.selection
        old_level = self.level
        self._typed = ""
        self.level, self.pos = level, pos
        new = self.selection
        if old_level != level:
            sy = int(self.scroll_offset.y)
            self.refresh(Region(0, 1 + old_level - sy, self.LABEL_WIDTH, 1), Region(0, 1 + level - sy, self.LABEL_WIDTH, 1))
        if self.has_selection:
            self._refresh_cells(old.union(new))
        else:
            self._refresh_cells(old)
            self._refresh_cells(new)
        self._scroll_to_cursor()
        self._cursor_moved()

    def action_cursor_left(self) -> None:
        self.move_to(self.level, self.pos - self.take_count())

    def action_cursor_right(self) -> None:
        self.move_to(self.level, self.pos + self.take_count())

    def action_cursor_up(self) -> None:
        self.move_to(self.level - self.take_count(), self.pos)

    def action_cursor_down(self) -> None:
        self.move_to(self.level + self.take_count(), self.pos)

    def action_beat_forward(self) -> None:
        n, beat = self.take_count(), max(self.beat, 1)
        self.move_to(self.level, (self.pos // beat + n) * beat)

    def action_beat_back(self) -> None:
        n, beat = self.take_count(), max(self.beat, 1)
        self.move_to(self.level, ((self.pos - 1) // beat - (n - 1)) * beat)

    def action_line_start(self) -> None:
        self._count = ""
        self.move_to(self.level, 0)

    def action_line_end(self) -> None:
        self._count = ""
        self.move_to(self.level, (self.doc.positions - 1) if self.doc is not None else 0)

    def action_goto_prefix(self) -> None:
        self._prefix = "g"

    def action_first_level(self) -> None:
        self._count = ""
        self.move_to(0, self.pos)

    def action_last_level(self) -> None:
        self._count = ""
        self.move_to((self.doc.levels - 1) if self.doc is not None else 0, self.pos)

    def action_edit_mode(self) -> None:
        self.set_mode(EDIT)

    def action_normal_mode(self) -> None:
        if self.mode != NORMAL or self._count or self._typed:
            self.set_mode(NORMAL)

    def action_visual(self) -> None:
        self.set_mode(NORMAL if self.mode == VISUAL else VISUAL)

    def action_visual_line(self) -> None:
        self.set_mode(NORMAL if self.mode == VISUAL_LINE else VISUAL_LINE)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if self.mode == EDIT and action in ("edit_mode", "visual", "visual_line", "goto_prefix") else True

    # ------------------------------------------------------------------ keys the bindings cannot express
    async def on_key(self, event: events.Key) -> None:
        if (plain := escape_then(event.key)) is not None and event.key not in self.screen.active_bindings:
            event.stop()  # Esc and a key typed fast arrive as one alt+key: both are run
            event.prevent_default()
            for key, char in (("escape", "\x1b"), (plain, plain)):
                await self.on_key(events.Key(key, char))
            return
        char = (event.character or "").lower() if event.is_printable else ""
        if self.mode == EDIT and char and char in HEX and event.key not in ("space",):
            event.stop()
            event.prevent_default()
            self._type_digit(char)
            return
        if self._prefix == "g":
            self._prefix = None
            if event.key == "g":
                event.stop()
                event.prevent_default()
                self.action_first_level()
                return
        if self.mode != EDIT and event.character and event.character.isdigit() and (self._count or event.character != "0"):
            event.stop()
            event.prevent_default()
            self._count = (self._count + event.character)[-5:]
            self._cursor_moved()
            return
        # Every other key runs its binding here, in order. Left to bubble up to the app, a binding runs
        # after the keys typed just behind it: "i00" in one burst (tmux, a fast typist, a paste) would
        # read the zeros as a count before "i" switched to edit mode.
        active = self.screen.active_bindings.get(event.key)
        if active is None or active.binding.priority:
            return
        event.stop()
        event.prevent_default()
        if active.enabled:
            await self.app.run_action(active.binding.action, active.node)

    def _type_digit(self, char: str) -> None:
        """One hex digit typed in edit mode; the last digit of a code posts `CodeTyped`.

        The cursor moves on only when the code exists at its level: on a refused code it stays on the
        cell, so that the right code can be typed there (the editor says why it was refused).
        """
        doc = self.doc
        if doc is None:
            return
        self._typed += char
        self._refresh_cells(Selection.cell(self.level, self.pos))
        if len(self._typed) >= self.digits:
            code = int(self._typed, 16)
            level, pos = self.level, self.pos
            self._typed = ""
            self.post_message(CodeTyped(level, pos, code))
            if code < doc.codebook_sizes[level]:
                self.move_to(level, pos + self.edit_step)
            else:
                self._refresh_cells(Selection.cell(level, pos))
                self._cursor_moved()
        else:
            self._cursor_moved()

    def on_click(self, event: events.Click) -> None:
        doc = self.doc
        if doc is None:
            return
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1 or offset.x < self.LABEL_WIDTH:
            return
        scroll_x, scroll_y = (int(v) for v in self.scroll_offset)
        self._count = ""
        self.move_to(offset.y - 1 + scroll_y, (offset.x - self.LABEL_WIDTH + scroll_x) // self.cell_width)

    # ------------------------------------------------------------------ playhead
    def set_playhead(self, pos: int | None) -> None:
        if pos == self.playhead:
            return
        old, self.playhead = self.playhead, pos
        for p in (old, pos):
            if p is not None:
                self._refresh_columns(p, p + 1)

    def scroll_to_position(self, pos: int) -> None:
        """Bring a position into view (follow mode)."""
        view = self._view_width()
        x = pos * self.cell_width
        if not int(self.scroll_x) <= x < int(self.scroll_x) + view - self.cell_width:
            self.scroll_to(x=max(x - view // 4, 0), animate=False)

    # ------------------------------------------------------------------ painting
    def _view_width(self) -> int:
        return max(self.scrollable_content_region.width - self.LABEL_WIDTH, 0)

    def _style(self, q: int, code: int, muted: bool) -> Style:
        key = (q, code, muted)
        if key not in self._styles:
            self._styles[key] = cell_style(self.colours, self._steps[q] if q < len(self._steps) else None, code, muted)
        return self._styles[key]

    def _segment(self, q: int, code: int, muted: bool) -> Segment:
        return Segment(f"{code:0{self.digits}x} ", self._style(q, code, muted))

    def _cell(self, q: int, p: int) -> Segment:
        assert self.doc is not None
        return self._segment(q, int(self.doc.codes[q, p]), q in self.muted)

    def _row(self, q: int) -> list[Segment]:
        row = self._rows.get(q)
        if row is None:
            assert self.doc is not None
            muted = q in self.muted
            row = self._rows[q] = [self._segment(q, int(c), muted) for c in self.doc.codes[q]]
        return row

    def _label(self, q: int, base: Style) -> Strip:
        c, muted = self.colours, q in self.muted
        text = label_text(q, self.look.labels[q] if q < len(self.look.labels) else "", muted, self.LABEL_WIDTH)
        style = base + Style(color=c.muted_text if muted else c.label, bold=q == self.level, strike=muted)
        return Strip([Segment(text, style)], self.LABEL_WIDTH)

    def _ruler_strip(self) -> Strip:
        if self._ruler is None:
            doc = self.doc
            assert doc is not None
            text = ruler_text(doc.positions, doc.seconds_per_position, self.cell_width, self.beat)
            self._ruler = Strip([Segment(text, Style(color=self.colours.ruler))], len(text))
        return self._ruler

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        doc = self.doc
        if doc is None:
            text = grid_paint.placeholder_line(self.placeholder, y, width)
            return Strip([Segment(text, base)]).extend_cell_length(width, base).crop(0, width)
        scroll_x, scroll_y = (int(v) for v in self.scroll_offset)
        view = max(width - self.LABEL_WIDTH, 0)
        cw = self.cell_width
        if y == 0:
            head = " level · time"[: self.LABEL_WIDTH].ljust(self.LABEL_WIDTH)  # the mode is on the status line
            strip = Strip([Segment(head, base + Style(color=self.colours.ruler, bold=True))], self.LABEL_WIDTH)
            ruler = self._ruler_strip().crop(scroll_x, scroll_x + view).apply_style(base)
            if self.playhead is not None:
                ruler = mark_playhead(ruler, self.playhead * cw - scroll_x, view,
                                      base + Style(color=self.colours.playhead, bold=True))
            return Strip.join([strip, ruler]).extend_cell_length(width, base).crop(0, width)
        q = y - 1 + scroll_y
        if not 0 <= q < doc.levels:
            return Strip.blank(width, base)
        row = self._row(q)
        c0 = scroll_x // cw
        c1 = min(-(-(scroll_x + view) // cw), doc.positions)
        segs = row[c0:c1]
        segs = self._overlay(q, c0, c1, segs)
        cells = Strip(segs, (c1 - c0) * cw).crop(scroll_x - c0 * cw, scroll_x - c0 * cw + view)
        return Strip.join([self._label(q, base), cells]).extend_cell_length(width, base).crop(0, width)

    def _overlay(self, q: int, c0: int, c1: int, segs: list[Segment]) -> list[Segment]:
        """Cursor, selection and playhead drawn over the cached cells (only the visible ones are touched)."""
        selection = self.selection if self.has_selection else None
        marks = grid_paint.overlay_marks(self.colours, q, c0, c1, self.playhead, selection, (self.level, self.pos))
        if not marks:
            return segs
        segs = list(segs)
        for p, style in marks.items():
            text = segs[p - c0].text
            if p == self.pos and q == self.level and self._typed:
                text = (self._typed + "_" * self.digits)[: self.digits] + " "
            segs[p - c0] = Segment(text, style)
        return segs

    # ------------------------------------------------------------------ refreshing just what changed
    def _refresh_cells(self, sel: Selection) -> None:
        doc = self.doc
        if doc is None or sel.empty:
            return
        scroll_x, scroll_y = (int(v) for v in self.scroll_offset)
        cw = self.cell_width
        x0 = self.LABEL_WIDTH + sel.pos_start * cw - scroll_x
        x1 = self.LABEL_WIDTH + (sel.pos_stop or doc.positions) * cw - scroll_x
        y0 = 1 + sel.level_start - scroll_y
        y1 = 1 + (sel.level_stop or doc.levels) - scroll_y
        x0, x1 = max(x0, self.LABEL_WIDTH), min(x1, self.size.width)
        y0, y1 = max(y0, 1), min(y1, self.size.height)
        if x1 > x0 and y1 > y0:
            self.refresh(Region(x0, y0, x1 - x0, y1 - y0))
        if sel.level_start <= self.level < (sel.level_stop or 0):
            self.refresh(Region(0, 1 + self.level - scroll_y, self.LABEL_WIDTH, 1))

    def _refresh_row(self, q: int) -> None:
        self.refresh(Region(0, 1 + q - int(self.scroll_offset.y), self.size.width, 1))

    def _refresh_columns(self, p0: int, p1: int) -> None:
        cw = self.cell_width
        x0 = self.LABEL_WIDTH + p0 * cw - int(self.scroll_offset.x)
        x0c = max(x0, self.LABEL_WIDTH)
        x1 = min(x0 + (p1 - p0) * cw, self.size.width)
        if x1 > x0c:
            self.refresh(Region(x0c, 0, x1 - x0c, self.size.height))

    def _scroll_to_cursor(self) -> None:
        view = self._view_width()
        cw = self.cell_width
        x = self.pos * cw
        sx = int(self.scroll_offset.x)
        if x < sx:
            self.scroll_to(x=x, animate=False)
        elif x + cw > sx + view:
            self.scroll_to(x=x + cw - view, animate=False)
        rows = max(self.scrollable_content_region.height - 1, 1)
        sy = int(self.scroll_offset.y)
        if self.level < sy:
            self.scroll_to(y=self.level, animate=False)
        elif self.level >= sy + rows:
            self.scroll_to(y=self.level - rows + 1, animate=False)

    def _cursor_moved(self) -> None:
        self.post_message(CursorMoved(self.level, self.pos))

    def on_resize(self, event: events.Resize) -> None:
        self._ruler = None
