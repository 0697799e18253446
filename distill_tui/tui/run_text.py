"""How a training run is said in the run view and the runs list: its clock, its progress bar, the code use of
the latest batch before the first evaluation, and the trainer's advice in the training form's words."""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

from .screens.train import SETTINGS


def form_words(message: str) -> str:
    """A trainer's advice in the training form's words: "(--levels 1)" becomes "(Levels 1 in the training
    form)"; the same message on the command line keeps the flag."""
    labels = {name.replace("_", "-"): label for name, label, _ in SETTINGS}

    def field(m: re.Match[str]) -> str:
        label = labels.get(m.group(1))
        return f"({label} {m.group(2)} in the training form)" if label else m.group(0)

    return re.sub(r"\(--([a-z-]+) ([^()\s]+)\)", field, message)


def run_clock(seconds: float | None) -> str:
    """Training time as a clock reads it: "1:00", "1:02:03"; "?" when not known."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_bar(progress: float | None, width: int = 20) -> str:
    """`progress` (0..1) as a bar of `width` characters, with a half block for the half step."""
    p = min(max(progress or 0.0, 0.0), 1.0)
    filled = int(p * width)
    return "█" * filled + ("▌" if p * width - filled >= 0.5 else "") + "·" * (width - filled - (1 if p * width - filled >= 0.5 else 0))


def render_batch_use(utilization: list[Any], sizes: list[int], step: int, width: int = 28) -> Text:
    """The health panel before the first evaluation: each level's share of codes the latest training batch
    used (a step event's `batch_utilization`), labelled as this batch's, not the whole dataset's."""
    text = Text()
    text.append(f"this batch (step {step}); the whole set at the first evaluation\n", style="dim italic")
    bar_w = max(min(width - 18, 16), 6)
    for q, u in enumerate(utilization):
        util = min(max(float(u), 0.0), 1.0) if isinstance(u, int | float) and not isinstance(u, bool) else 0.0
        filled = round(util * bar_w)
        size = sizes[q] if q < len(sizes) and sizes[q] else None
        text.append(f"{q + 1} ", style="bold")
        text.append("█" * filled, style="cyan")
        text.append("░" * (bar_w - filled), style="dim")
        text.append(f" {100 * util:3.0f}% of {size if size else '?'} used\n")
    text.rstrip()
    return text
