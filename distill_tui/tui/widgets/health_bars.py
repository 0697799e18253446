"""Per-level codebook health in words: a use bar, codes in regular use, unused codes, a verdict, and what muting
each level does to the sound being edited."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.text import Text
from textual import work
from textual.widgets import Static

from ...analysis.closeness import closeness
from ...analysis.health import as_health, level_verdicts
from ...analysis.level_effect import LevelEffect, level_effects
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
    """The codebook health panel, with each level's measured effect on the sound being edited."""

    DEFAULT_CSS = """
    HealthBars { height: auto; padding: 0 1; }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.levels: list[LevelHealth] = []
        self.effects: dict[int, LevelEffect] = {}  # level -> how far the current sound moves muted / with random codes
        self.effects_of: str | None = None  # the sound they were measured on

    def show(self, levels: list[LevelHealth]) -> None:
        """Show these levels (from `level_health`); the tooltip says why each verdict is what it is."""
        self.levels = levels
        self.tooltip = "\n".join(f"level {h.level + 1}: {h.verdict}: {h.explanation}" for h in levels) or None
        self.update(render_health(levels, max(self.size.width - 2, 20), self.effects))

    @work(thread=True, exclusive=True, group="level-effects")
    def measure(self, decode_db: Callable[..., Any], name: str, codes: np.ndarray, sizes: Sequence[int],
                muted: Sequence[int] = ()) -> None:
        """Measure in a thread how far muting and re-rolling each level move `name` (analysis/level_effect.py),
        then redraw."""
        effects = {e.level: e for e in level_effects(decode_db, codes, sizes, muted)}
        self.app.call_from_thread(self._measured, name, effects)

    def _measured(self, name: str, effects: dict[int, LevelEffect]) -> None:
        self.effects, self.effects_of = effects, name
        self.show(self.levels)


def render_health(levels: list[LevelHealth], width: int = 28, effects: Mapping[int, LevelEffect] | None = None) -> Text:
    """The panel's text: per level its verdict, a utilization bar, the codes in common use (the perplexity),
    unused codes, the level's gain, and (given `effects`) how far muting it moves the sound being edited."""
    text = Text()
    bar_w = max(min(width - 13, 16), 6)
    for h in levels:
        text.append(f"{h.level + 1} {h.label[:12]:<12} " if h.label else f"{h.level + 1} ", style="bold")
        text.append(f"{h.verdict}\n", style=f"bold {h.colour}")
        util = h.utilization or 0.0
        filled = round(util * bar_w)
        text.append("  ")
        text.append("█" * filled, style=h.colour)
        text.append("░" * (bar_w - filled), style="dim")
        text.append(f" {100 * util:3.0f}% used\n")
        ppl = "?" if h.perplexity is None else f"{h.perplexity:.0f}"
        dead = "?" if h.dead is None else str(h.dead)
        gain = "" if h.gain_db is None else f" · adds {max(h.gain_db, 0):.2g} dB"  # to every sound, as `info` says
        line = f"  ~{ppl} common · {dead} idle"
        line = line + gain if len(line + gain) <= width else f"{line}\n  {gain.removeprefix(' · ')}"  # never a lone "dB"
        text.append(f"{line}\n", style="dim")
        if effects is not None and h.level in effects:
            e = effects[h.level]
            for what, db in (("muted", e.muted_db), ("random codes", e.rerolled_db)):  # this sound, so changed
                line = f"  {what}: {closeness(db).word} ({db:.1f} dB)"
                text.append(f"{line if len(line) <= width else line.rsplit(' (', 1)[0]}\n")  # the word before the figure
    if not levels:
        text.append("no model loaded", style="dim")
    text.rstrip()
    return text
