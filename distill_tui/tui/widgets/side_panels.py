"""The editor's side panels (Cell, Sounds, Codebook health, Generate): stacked when the terminal is wide, tabs when not.

Below `COMPACT_WIDTH` columns (80×24 over SSH) the panels become tabs: one panel at a time, a tab bar on top,
`t` (or a click on a name) for the next, so the grid keeps a useful width and the Generate controls are on screen
whole when chosen. At `COMPACT_WIDTH` and wider every panel is stacked as before and `t` scrolls the next one into
view. Only classes change (`-compact` on the panels, `-chosen` on one panel; distill.tcss draws them): the widgets
stay mounted, so sliders and lists keep their state across a resize. Focus never stays on a hidden control.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from .generate_panel import GeneratePanel
from .health_bars import HealthBars
from .inspector import Inspector
from .slots import SlotsPanel

COMPACT_WIDTH = 100  # below this many columns the side panels are tabs
PANELS: list[tuple[str, str, str]] = [  # id, tab name, title when stacked
    ("cell", "Cell", "Cell"),
    ("sounds", "Sounds", "Sounds"),
    ("health", "Health", "Codebook health"),
    ("generate", "Generate", "Generate"),
]
HINT = " t next panel · Tab into it"
READ_ONLY_HINT = " t next panel"  # a panel with nothing to focus (Cell, Health): Tab would go nowhere


def is_compact(width: int) -> bool:
    """Whether a terminal `width` columns wide shows the side panels as tabs."""
    return width < COMPACT_WIDTH


class SideTabs(Static):
    """The tab bar (shown only in compact mode): the panels' names, the chosen one marked; a click chooses."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.chosen = PANELS[0][0]
        self._spans: list[tuple[int, int, str]] = []  # (x0, x1, panel id) on the first line
        self.tooltip = "t shows the next panel; Tab moves into it, and back to the grid"

    def show(self, chosen: str, controls: bool = True) -> None:
        """Mark `chosen`; the hint offers Tab only when the panel has `controls` to move into."""
        self.chosen = chosen
        text, self._spans, x = Text(" "), [], 1
        for pid, name, _ in PANELS:  # " Cell Sounds Health Generate": 28 columns, the bar is 30
            text.append(name, style="bold reverse" if pid == chosen else "")
            self._spans.append((x, x + len(name) + 1, pid))
            text.append(" ")
            x += len(name) + 1
        text.append("\n" + (HINT if controls else READ_ONLY_HINT), style="dim italic")
        self.update(text)

    def panel_at(self, x: int, y: int) -> str | None:
        if y != 0:
            return None
        return next((pid for x0, x1, pid in self._spans if x0 <= x < x1), None)

    def on_click(self, event: events.Click) -> None:
        pid = self.panel_at(event.x, event.y)
        if pid is not None:
            event.stop()
            side = next(a for a in self.ancestors if isinstance(a, SidePanels))
            side.chosen = pid


class SidePanels(Vertical, can_focus=False):
    """The side column: the tab bar, then the panels in a scroll container (never focused itself)."""

    chosen: reactive[str] = reactive(PANELS[0][0], init=False)

    def compose(self) -> ComposeResult:
        yield SideTabs(id="side-tabs")
        with VerticalScroll(id="side-scroll", can_focus=False):  # Tab goes to its controls, never to the box
            for pid, _, title in PANELS:
                with Vertical(id=f"panel-{pid}", classes="side-panel"):
                    yield Static(title, classes="panel-title")
                    yield self._panel_body(pid)

    @staticmethod
    def _panel_body(pid: str) -> Widget:
        if pid == "cell":
            return Inspector(id="inspector")
        if pid == "sounds":
            return SlotsPanel(id="slots")
        if pid == "health":
            return HealthBars(id="health")
        return GeneratePanel(id="generate")

    def on_mount(self) -> None:
        self._show_chosen()

    @property
    def compact(self) -> bool:
        return self.has_class("-compact")

    def fit(self, width: int) -> None:
        """Tabs below `COMPACT_WIDTH` columns, stacked panels above; called by the editor on every resize."""
        compact = is_compact(width)
        if compact == self.compact:
            return
        inside = self._panel_of(self.screen.focused)
        if compact and inside is not None:
            self.set_reactive(SidePanels.chosen, inside)  # a control with the keys stays on screen
        self.set_class(compact, "-compact")
        self._show_chosen()

    def next_panel(self, step: int = 1) -> None:
        """Choose the next panel (tabs), or scroll it into view (stacked)."""
        ids = [pid for pid, _, _ in PANELS]
        self.chosen = ids[(ids.index(self.chosen) + step) % len(ids)]

    def watch_chosen(self) -> None:
        self._show_chosen()

    def has_controls(self, pid: str) -> bool:
        """Whether panel `pid` holds anything Tab can move into (the sound list, sliders)."""
        return any(w.can_focus for w in self.query_one(f"#panel-{pid}").query("*"))

    def title(self, pid: str) -> str:
        return next(name for p, name, _ in PANELS if p == pid)

    def _show_chosen(self, scroll: bool = True) -> None:
        self.query_one(SideTabs).show(self.chosen, self.has_controls(self.chosen))
        panel = self.query_one(f"#panel-{self.chosen}")
        for p in self.query(".side-panel"):
            p.set_class(p is panel, "-chosen")
        scroll_box = self.query_one("#side-scroll", VerticalScroll)
        if self.compact:
            scroll_box.scroll_home(animate=False)
            if self.chosen == "health":  # drawn while hidden, its bars were sized for no width
                health = self.query_one(HealthBars)
                self.call_after_refresh(lambda: health.show(health.levels))
        elif scroll:
            self.call_after_refresh(scroll_box.scroll_to_widget, panel, animate=False, top=True)
        inside = self._panel_of(self.screen.focused)
        if inside is not None and inside != self.chosen:  # hidden, or scrolled away: the keys go back to the grid
            self.screen.query_one("#grid").focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Tab (or a click) into a control: its panel becomes the chosen one, without scrolling (a click in
        progress must land where it was aimed)."""
        pid = self._panel_of(event.widget)
        if pid is not None and pid != self.chosen:
            self.set_reactive(SidePanels.chosen, pid)
            self._show_chosen(scroll=False)

    def _panel_of(self, widget: Widget | None) -> str | None:
        """The id of the panel that holds `widget`, or None."""
        if widget is None:
            return None
        for node in widget.ancestors_with_self:
            if isinstance(node, Vertical) and node.has_class("side-panel") and node.id:
                return node.id.removeprefix("panel-")
        return None
