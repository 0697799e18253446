"""A small slider (our own: docs/architecture.md, decision 11): a label, a bar, a value; linear or logarithmic; keys and mouse."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class Slider(Widget, can_focus=True):
    """A value in [low, high] moved in `steps` steps; `log` spaces the steps evenly on a log scale.

    `fmt` turns a value into the text shown; `off_at` names an end ("low" or "high") that means "off"
    (top-k at its maximum keeps every code), shown as "off".
    """

    BINDINGS = [
        Binding("h,left", "step(-1)", "less", show=False, id="slider.less"),
        Binding("l,right", "step(1)", "more", show=False, id="slider.more"),
        Binding("H,pageup", "step(-10)", "much less", show=False, id="slider.much_less"),
        Binding("L,pagedown", "step(10)", "much more", show=False, id="slider.much_more"),
        Binding("home,0", "end(0)", "lowest", show=False, id="slider.lowest"),
        Binding("end,dollar_sign", "end(1)", "highest", show=False, id="slider.highest"),
    ]
    DEFAULT_CSS = """
    Slider { height: 1; width: 1fr; }
    Slider:focus { background: $boost; text-style: bold; }
    """

    position: reactive[int] = reactive(0)

    @dataclass
    class Changed(Message):
        slider: Slider
        value: float

        @property
        def control(self) -> Slider:
            return self.slider

    def __init__(self, label: str, low: float, high: float, value: float, *, steps: int = 100, log: bool = False,
                 integer: bool = False, fmt: Callable[[float], str] | None = None, off_at: str | None = None,
                 id: str | None = None, tooltip: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.low, self.high = float(low), float(high)
        self.steps = max(int(steps), 1)
        self.log_scale = log
        self.integer = integer
        self.fmt = fmt or (lambda v: f"{v:g}")
        self.off_at = off_at
        self.set_reactive(Slider.position, self.position_of(value))
        if tooltip:
            self.tooltip = tooltip

    # ---- value <-> position
    def value_at(self, position: int) -> float:
        t = min(max(position, 0), self.steps) / self.steps
        if self.log_scale:
            v = math.exp(math.log(self.low) + t * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + t * (self.high - self.low)
        return float(round(v)) if self.integer else v

    def position_of(self, value: float) -> int:
        value = min(max(float(value), self.low), self.high)
        if self.log_scale:
            t = (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            t = (value - self.low) / (self.high - self.low) if self.high > self.low else 0.0
        return round(t * self.steps)

    @property
    def value(self) -> float:
        return self.value_at(self.position)

    @value.setter
    def value(self, value: float) -> None:
        self.position = self.position_of(value)

    @property
    def is_off(self) -> bool:
        return (self.off_at == "high" and self.position >= self.steps) or (self.off_at == "low" and self.position <= 0)

    def value_text(self) -> str:
        return "off" if self.is_off else self.fmt(self.value)

    # ---- input
    def action_step(self, n: int) -> None:
        self.position = min(max(self.position + n, 0), self.steps)

    def action_end(self, which: int) -> None:
        self.position = self.steps if which else 0

    def watch_position(self, old: int, new: int) -> None:
        if old != new:
            self.post_message(self.Changed(self, self.value))

    def _bar_span(self) -> tuple[int, int]:
        label_w = 11
        value_w = 7
        return label_w, max(self.size.width - label_w - value_w, 4)

    def on_click(self, event: events.Click) -> None:
        start, width = self._bar_span()
        x = event.x - start
        if 0 <= x < width:
            self.position = round(x / max(width - 1, 1) * self.steps)

    def render(self) -> Text:
        start, width = self._bar_span()
        knob = round(self.position / self.steps * (width - 1))
        text = Text(f"{self.label[:10]:<10} ", style="bold" if self.has_focus else "")
        primary = self.app.theme_variables.get("primary", "") if self.is_attached else ""
        text.append("━" * knob, style=primary)
        text.append("●", style=f"bold {primary}" + (" reverse" if self.has_focus else ""))
        text.append("─" * (width - knob - 1), style="dim")
        text.append(f" {self.value_text():>6}")
        return text
