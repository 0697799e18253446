"""The model report (`info` as a screen): configs, dataset, per-level health, the prior's verdict; `e` exports Markdown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static

from ..widgets.health_bars import HealthBars, level_health
from ..widgets.heatmap import UsageHeatmap


@dataclass
class ReportLoaded(Message):
    info: dict[str, Any]
    counts: list[list[int]] | None
    markdown: str


@dataclass
class ReportFailed(Message):
    reason: str


@dataclass
class ReportExported(Message):
    message: str
    ok: bool


class ReportScreen(Screen):
    """Reads the model file in a thread (a corrupt file is a message, not a crash)."""

    AUTO_FOCUS = "#report-main"  # arrows, PgUp/PgDn and j/k scroll at once, no Tab first
    BINDINGS = [
        Binding("e", "export", "export Markdown", id="report.export"),
        Binding("escape", "back", "back", id="report.back"),
        Binding("j", "scroll(1)", "scroll", id="report.down"),
        Binding("k", "scroll(-1)", show=False, id="report.up"),
    ]
    DEFAULT_CSS = """
    ReportScreen #report-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    ReportScreen #report-heatmap { border-bottom: hkey $panel; }
    ReportScreen #report-body-row { height: 1fr; }
    ReportScreen #report-side { width: 34; border-right: vkey $panel; }
    ReportScreen #report-main { width: 1fr; }
    ReportScreen #report-status { height: 1; padding: 0 1; background: $surface; }
    ReportScreen.-narrow #report-side { display: none; }
    """
    # below 110 columns the health bars (the same figures as the report's table) give the report their room; at
    # 80 columns the table beside them was cut to "…" and "(perp…" in every cell
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    def __init__(self, model_path: Path) -> None:
        super().__init__()
        self.model_path = Path(model_path)
        self.info: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"Model report · {self.model_path.name}", id="report-title")
        yield UsageHeatmap(id="report-heatmap")
        with Horizontal(id="report-body-row"):
            with VerticalScroll(id="report-side"):
                yield HealthBars(id="report-health")
            with VerticalScroll(id="report-main"):
                yield Markdown("Reading the model file…", id="report-body")
        yield Static("e: export as Markdown (with a PNG heatmap when matplotlib is installed)", id="report-status")
        yield Footer(show_command_palette=False)  # ":" is in the footer already

    def on_mount(self) -> None:
        self._load()

    def action_scroll(self, lines: int) -> None:
        main = self.query_one("#report-main", VerticalScroll)
        main.scroll_relative(y=lines * 3, animate=False)

    @work(thread=True, exclusive=True, group="report")
    def _load(self) -> None:
        from ...analysis.model_info import info_dict
        from ...analysis.report import markdown_report
        from ...persistence.model_file import load_model_file

        try:
            doc = load_model_file(self.model_path).document
            info, counts = info_dict(doc), doc.counts
        except Exception as exc:  # noqa: BLE001 - a bad model file is a message on this screen
            self.post_message(ReportFailed(str(exc)))
            return
        self.post_message(ReportLoaded(info, counts, markdown_report(info, self.model_path.name)))

    def on_report_loaded(self, message: ReportLoaded) -> None:
        self.info = message.info
        if message.counts:
            self.query_one(UsageHeatmap).show([np.asarray(c) for c in message.counts])
        sizes = list(message.info["codebook_sizes"])
        self.query_one(HealthBars).show(level_health(message.info["health"], sizes, [""] * len(sizes)))
        self.query_one(Markdown).update(message.markdown)

    def on_report_failed(self, message: ReportFailed) -> None:
        self.query_one(Markdown).update(f"**Cannot read this model file.** {message.reason}\n\n"
                                        "Retrain it, or open another model (`:` then *Open model…*).")

    def action_export(self) -> None:
        if self.info is None:
            self.notify("the report is not loaded", severity="warning")
            return
        self._export()

    @work(thread=True, exclusive=True, group="report-export")
    def _export(self) -> None:
        from ...analysis.report import write_report

        try:  # into the folder Distill was started from, never beside the model (the demo's is inside the install)
            files = write_report(self.model_path, Path.cwd())
        except Exception as exc:  # noqa: BLE001
            self.post_message(ReportExported(f"export failed: {exc}", False))
            return
        msg = f"wrote {files.markdown.resolve()}" + (f" and {files.png.name}" if files.png else f" ({files.note})")
        self.post_message(ReportExported(msg, True))

    def on_report_exported(self, message: ReportExported) -> None:
        self.query_one("#report-status", Static).update(escape(message.message))
        self.notify(message.message, severity="information" if message.ok else "error", timeout=8)

    def action_back(self) -> None:
        self.app.pop_screen()
