"""The codebook browser: every code of a level with its colour, usage, description and place from dark and soft
to bright and loud; hear it, find it, use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..messages import CodeTyped
from ..palette import GridColours, ramp, step_of, text_on
from ..widgets.heatmap import UsageHeatmap
from ..widgets.inspector import ORDER_WORDS

USAGE, PERCEPTUAL = "usage", "perceptual"
BAR_W = 12


@dataclass
class Occurrence:
    """Where a code sits in a loaded sound."""

    sound: str
    positions: list[int]


@dataclass
class PreviewDone(Message):
    level: int
    code: int
    message: str


def occurrences(ws: Any, level: int, code: int) -> list[Occurrence]:
    """Every loaded sound's positions holding `code` on `level`."""
    out = []
    for name in ws.names():
        grid = ws.grid(name)
        if level < grid.levels:
            pos = np.flatnonzero(grid.codes[level] == code)
            if len(pos):
                out.append(Occurrence(name, [int(p) for p in pos]))
    return out


# the order the editor's inspector gives ("29/64 dark/soft → bright/loud"): "dark→bright" alone put loud dark codes
# at 48/64
ORDER_HEADER = ORDER_WORDS.replace(" → ", "→")


class CodebookScreen(Screen):
    """One level at a time ([ and ] or 1-9 switch); the heatmap above shows all levels."""

    BINDINGS = [
        Binding("j,down", "move(1)", "next code", id="codebook.down", show=False),  # vim keys, as in the grid
        Binding("k,up", "move(-1)", "previous code", id="codebook.up", show=False),
        Binding("space", "preview", "hear", id="codebook.preview"),
        # the footer at 80 columns: g is named where it applies ("(g jumps there)"), s in the level line
        Binding("g", "jump", "go to next use", id="codebook.jump", show=False),
        Binding("i", "insert", "insert", id="codebook.insert", tooltip="write the code at the editor's cursor"),
        Binding("s", "sort", "sort", id="codebook.sort", show=False),
        Binding("right_square_bracket", "level(1)", "level", id="codebook.next_level", key_display="[ ]",
                tooltip="next level ([ the one before)"),
        Binding("left_square_bracket", "level(-1)", "previous level", id="codebook.previous_level", show=False),
        Binding("escape", "back", "back", id="codebook.back"),
    ]
    DEFAULT_CSS = """
    CodebookScreen #cb-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    CodebookScreen #cb-heatmap { border-bottom: hkey $panel; }
    CodebookScreen #cb-level { height: auto; max-height: 5; padding: 0 1; }
    CodebookScreen DataTable { height: 1fr; }
    CodebookScreen #cb-where { height: 2; padding: 0 1; background: $surface; }
    """

    def __init__(self, engine: Any, editor: Any = None, level: int = 0) -> None:
        super().__init__()
        self.engine = engine
        self.editor = editor
        self.perceptual = engine.perceptual
        self.level = level
        self.sort = USAGE
        self.jump_index = 0
        self._previews: Any = None
        self.rows: list[int] = []  # code of each table row
        self.where_text = ""

    @property
    def levels(self) -> int:
        return len(self.perceptual.levels)

    def compose(self) -> ComposeResult:
        yield Static(f"Codebook · {self.engine.path.name}", id="cb-title")
        yield UsageHeatmap(list(self.perceptual.usage), order=list(self.perceptual.order), id="cb-heatmap")
        yield Static("", id="cb-level")
        yield DataTable(id="cb-table", cursor_type="row", zebra_stripes=False)
        yield Static("", id="cb-where", markup=False)
        yield Footer(show_command_palette=False)  # ":" is in the footer already

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("hex", "index", "usage", "count", "share", "sounds like", ORDER_HEADER)
        self.fill()
        table.focus()

    @property
    def colours(self) -> tuple[str, ...]:
        gc = getattr(self.app, "grid_colours", GridColours())
        return ramp(gc.code_palette)

    def fill(self) -> None:
        lv = self.perceptual.levels[self.level]
        usage = np.asarray(lv.usage)
        total = int(usage.sum())
        k = len(usage)
        rank = lv.rank
        if self.sort == USAGE:
            codes = sorted(range(k), key=lambda c: (-int(usage[c]), int(rank[c])))
        else:
            codes = [int(c) for c in lv.order]
        self.rows = codes
        top = max(int(usage.max()), 1) if k else 1
        colours = self.colours
        table = self.query_one(DataTable)
        table.clear()
        for c in codes:
            colour = colours[step_of(float(rank[c]) / max(k - 1, 1), len(colours))]
            swatch = Text(f" {c:02x} ", style=f"{text_on(colour)} on {colour}")
            n = int(usage[c])
            filled = round(n / top * BAR_W)
            bar = Text("█" * filled, style="green" if n else "") + Text("░" * (BAR_W - filled), style="dim")
            share = f"{100 * n / total:.1f}%" if total else "?"
            table.add_row(swatch, f"{c:3d}", bar, str(n) if total else "?", share,
                          lv.descriptions[c] + ("" if n or not total else "  (never used)"), f"{int(rank[c]) + 1}/{k}",
                          key=str(c))
        used = int((usage > 0).sum())
        sort = "usage (most used first)" if self.sort == USAGE else "brightness and loudness together (lowest first)"
        self.query_one("#cb-level", Static).update(
            f"[b]Level {self.level + 1}: {lv.label}[/]  {used}/{k} codes used · sorted by {sort} (s: the other "
            f"order)\n[dim]{lv.reason}[/]")
        self.jump_index = 0
        self.show_where()

    @property
    def code(self) -> int | None:
        row = self.query_one(DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def action_move(self, step: int) -> None:
        """j/k (and the arrows) move through the codes, whichever widget has the focus."""
        table = self.query_one(DataTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.row_count - 1, table.cursor_row + step)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.jump_index = 0
        self.show_where()

    def say(self, text: str) -> None:
        self.where_text = text
        self.query_one("#cb-where", Static).update(text)

    def show_where(self) -> None:
        code = self.code
        if code is None or self.editor is None:
            self.say("")
            return
        occ = occurrences(self.editor.ws, self.level, code)
        if not occ:
            self.say(f"code {code:02x} is not used in the loaded sounds")
            return
        parts = [f"{o.sound}: {len(o.positions)}× at {', '.join(map(str, o.positions[:6]))}{'…' if len(o.positions) > 6 else ''}"
                 for o in occ[:4]]
        self.say(f"code {code:02x} in " + " · ".join(parts) + "  (g jumps there)")

    # ------------------------------------------------------------------ actions
    def action_sort(self) -> None:
        self.sort = PERCEPTUAL if self.sort == USAGE else USAGE
        self.fill()

    def action_level(self, step: int) -> None:
        self.level = (self.level + step) % self.levels
        self.fill()

    def on_key(self, event: Any) -> None:
        if event.character and event.character.isdigit() and 1 <= int(event.character) <= self.levels:
            event.stop()
            self.level = int(event.character) - 1
            self.fill()

    def action_preview(self) -> None:
        code = self.code
        router = getattr(self.editor, "router", None)
        if code is None:
            return
        if router is None:
            self.notify("audio output is not ready yet", severity="warning")
            return
        self._preview(self.level, code, router)

    @work(thread=True, exclusive=True, group="code-preview")
    def _preview(self, level: int, code: int, router: Any) -> None:
        from ...analysis.perceptual import CodePreviews

        try:
            if self._previews is None:
                self._previews = CodePreviews(self.engine.codec, self.perceptual)
            audio = self._previews.get(level, code)
            result = router.play(audio, self.engine.sample_rate, name=f"L{level + 1}-code-{code:02x}")
            msg = result.message
        except Exception as exc:  # noqa: BLE001 - a failed preview is a message, not a crash
            msg = f"could not play the code: {exc}"
        self.post_message(PreviewDone(level, code, msg))

    def on_preview_done(self, message: PreviewDone) -> None:
        self.say(f"L{message.level + 1} code {message.code:02x}: {message.message}")

    def action_jump(self) -> None:
        code = self.code
        if code is None or self.editor is None:
            return
        flat = [(o.sound, p) for o in occurrences(self.editor.ws, self.level, code) for p in o.positions]
        if not flat:
            self.notify(f"code {code:02x} does not occur in the loaded sounds", severity="warning")
            return
        sound, pos = flat[self.jump_index % len(flat)]
        self.jump_index += 1
        editor, level = self.editor, self.level
        self.app.pop_screen()
        if editor.ws.a != sound:
            editor.put_in_slot("A", sound)
        editor.grid.move_to(level, pos)

    def action_insert(self) -> None:
        code = self.code
        editor = self.editor
        if code is None or editor is None or editor.ws.a is None:
            self.notify("open a sound in the editor first", severity="warning")
            return
        level, pos = self.level, editor.grid.pos
        self.app.pop_screen()
        editor.post_message(CodeTyped(level, pos, code))

    def action_back(self) -> None:
        self.app.pop_screen()
