"""The terminal view of a training run: a rich progress bar with live per-level utilization."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class TrainDisplay:
    """Feed it events (`__call__`); it draws on stderr. Warnings are printed in plain words."""

    def __init__(self, label: str = "training", enabled: bool = True) -> None:
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=self.console, transient=False,
        )
        self.task = self.progress.add_task(label, total=1.0, info="")
        self.info: dict[str, str] = {}
        self._started = False

    def __enter__(self) -> TrainDisplay:
        if self.live:
            self.progress.start()
            self._started = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._started:
            self.progress.stop()

    def say(self, text: str) -> None:
        """One message. Written to a file or a pipe (a log), a line is never wrapped: a path stays whole."""
        if self.enabled:
            self.console.print(text, highlight=False, soft_wrap=not self.console.is_terminal)

    def __call__(self, ev: dict[str, Any]) -> None:
        kind = ev.get("event")
        if kind in ("start", "resume"):
            what = f"resuming at step {ev.get('step')}" if kind == "resume" else "starting"
            self.say(f"{what}: {ev.get('files')} files ({ev.get('cached', 0)} from cache) on {ev.get('device')}")
        elif kind == "step":
            util = ev.get("batch_utilization") or []
            self.info["step"] = f"step {ev['step']}  loss {ev.get('loss', 0):.3f}  {ev.get('steps_per_s', 0):.1f} it/s"
            if util:
                self.info["util"] = "util " + " ".join(f"L{i + 1} {u:.0%}" for i, u in enumerate(util))
            self.progress.update(self.task, completed=float(ev.get("progress", 0)), info="  ".join(self.info.values()))
        elif kind == "eval":
            self.info["val"] = f"val {ev['val_db']:.2f} dB"
            if not self.live:  # the best is of the smoothed figure (the one that chooses the model kept)
                smooth = ev.get("smooth_val_db", ev["val_db"])
                self.say(f"step {ev['step']}: validation {ev['val_db']:.2f} dB (smoothed {smooth:.2f}, "
                         f"best smoothed {ev['best_val_db']:.2f})")
        elif kind == "health":
            util = ev.get("utilization", [])
            self.info["util"] = "util " + " ".join(f"L{i + 1} {u:.0%}" for i, u in enumerate(util))
        elif kind in ("rate", "threads", "width"):
            if ev.get("message"):
                self.say(escape(str(ev.get("message"))))
        elif kind == "warning":
            self.say(f"[yellow]warning:[/] {escape(str(ev.get('message')))}")
        elif kind == "stopped":
            self.say(f"stopped at step {ev.get('step')}: {ev.get('message')}")
        elif kind == "done":
            self.progress.update(self.task, completed=1.0)
        if not self.live and kind == "step" and self.enabled and int(ev.get("step", 0)) % 500 == 0:
            self.say("  ".join(self.info.values()))
