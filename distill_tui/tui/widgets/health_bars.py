"""Per-level codebook health: a utilization bar, perplexity, dead codes and a verdict in words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ...analysis.health import as_health, level_verdicts
from ...persistence.document import HealthSummary


@dataclass
class LevelHealth:
    """One level's health as the panel shows it; `colour`, `verdict` and `explanation` come from analysis/health.py."""

    level: int
    label: str
    utilization: float | None
    perplexity: float | None
    dead: int | None
    size: int
    gain_db: float | None
    colour: str  # "green", "yellow" or "red"
    verdict: str
    explanation: str = ""


def _at(values: Sequence[Any], i: int) -> float | None:
    if i < len(values) and isinstance(values[i], int | float) and not isinstance(values[i], bool):
        return float(values[i])
    return None


def level_health(health: HealthSummary | Mapping[str, Any] | None, sizes: list[int], labels: list[str]) -> list[LevelHealth]:
    """The panel's rows: the measurements of each level and the shared verdict (`analysis.health.level_verdicts`)."""
    h = as_health(health)
    out = []
    for q, (size, v) in enumerate(zip(sizes, level_verdicts(h, sizes), strict=True)):
        dead = _at(h.dead_codes, q)
        out.append(LevelHealth(q, labels[q] if q < len(labels) else "", _at(h.utilization, q), _at(h.perplexity, q),
                               None if dead is None else int(dead), size, _at(h.level_gain_db, q), v.colour, v.word,
                               v.explanation))
    return out


class HealthBars(Static):
    """The codebook health panel."""

    DEFAULT_CSS = """
    HealthBars { height: auto; padding: 0 1; }
    """

    def show(self, levels: list[LevelHealth]) -> None:
        """Show these levels (from `level_health`); the tooltip says why each verdict is what it is."""
        self.tooltip = "\n".join(f"level {h.level + 1}: {h.verdict}: {h.explanation}" for h in levels) or None
        self.update(render_health(levels, max(self.size.width - 2, 20)))


def render_health(levels: list[LevelHealth], width: int = 28) -> Text:
    """The panel's text: per level its verdict, a utilization bar, perplexity, dead codes and gain."""
    text = Text()
    bar_w = max(min(width - 13, 16), 6)
    for h in levels:
        text.append(f"{h.level + 1} {h.label[:12]:<12} ", style="bold")
        text.append(f"{h.verdict}\n", style=f"bold {h.colour}")
        util = h.utilization or 0.0
        filled = round(util * bar_w)
        text.append("  ")
        text.append("█" * filled, style=h.colour)
        text.append("░" * (bar_w - filled), style="dim")
        text.append(f" {100 * util:3.0f}% used\n")
        ppl = "?" if h.perplexity is None else f"{h.perplexity:.0f}"
        dead = "?" if h.dead is None else str(h.dead)
        gain = "" if h.gain_db is None else f" · +{max(h.gain_db, 0):.2g} dB"
        text.append(f"  ppl {ppl} · {dead} dead{gain}\n", style="dim")
    if not levels:
        text.append("no model loaded", style="dim")
    text.rstrip()
    return text
