"""Per-level codebook health: a utilization bar, perplexity, dead codes and a verdict in words."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

LOW_UTILIZATION = 0.30  # the trainer's own warning threshold (TrainConfig.low_utilization)
FAIR_UTILIZATION = 0.60
MIN_GAIN_DB = 0.05  # the trainer's "adds almost nothing" threshold (TrainConfig.min_level_gain_db)


@dataclass
class LevelHealth:
    """One level's health as the panel shows it."""

    level: int
    label: str
    utilization: float | None
    perplexity: float | None
    dead: int | None
    size: int
    gain_db: float | None
    colour: str  # "green", "yellow" or "red"
    verdict: str


def _at(values: object, i: int) -> float | None:
    if isinstance(values, list) and i < len(values) and isinstance(values[i], int | float):
        return float(values[i])
    return None


def level_health(health: dict, sizes: list[int], labels: list[str]) -> list[LevelHealth]:
    """Verdicts from the model file's health section (utilization, perplexity, dead codes, level gain)."""
    out = []
    gains = [g for g in (health.get("level_gain_db") or []) if isinstance(g, int | float)]
    total_gain = sum(max(g, 0.0) for g in gains) or 1.0
    for q, size in enumerate(sizes):
        util, ppl = _at(health.get("utilization"), q), _at(health.get("perplexity"), q)
        dead, gain = _at(health.get("dead_codes"), q), _at(health.get("level_gain_db"), q)
        if util is None:
            colour, verdict = "yellow", "no data"
        elif util < LOW_UTILIZATION:
            colour, verdict = "red", "mostly unused"
        elif gain is not None and gain < MIN_GAIN_DB:
            colour, verdict = "red", "adds ~nothing"
        elif util < FAIR_UTILIZATION:
            colour, verdict = "yellow", "underused"
        elif gain is not None and max(gain, 0.0) / total_gain < 0.05:
            colour, verdict = "yellow", "adds little"
        else:
            colour, verdict = "green", "healthy"
        out.append(LevelHealth(q, labels[q] if q < len(labels) else "", util, ppl,
                               None if dead is None else int(dead), size, gain, colour, verdict))
    return out


class HealthBars(Static):
    """The codebook health panel."""

    DEFAULT_CSS = """
    HealthBars { height: auto; padding: 0 1; }
    """

    def show(self, levels: list[LevelHealth]) -> None:
        self.update(render_health(levels, max(self.size.width - 2, 20)))


def render_health(levels: list[LevelHealth], width: int = 28) -> Text:
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
