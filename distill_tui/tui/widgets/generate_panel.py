"""The generate panel: Creativity (temperature, log scale), Diversity (top-p), Focus (top-k), length, seed, and the
sound's shape (a seamless loop, a one-shot, or neither)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Checkbox, Static

from ...inference.sampling import DRAWN_SEEDS, SamplingSettings
from ..messages import GenerateRequested
from .slider import Slider

MAX_SEED = DRAWN_SEEDS  # every seed Generate draws can be set here again (Set seed…)


class GeneratePanel(Vertical):
    """Sliders for the sampling settings and a Generate button; posts `GenerateRequested`.

    The button's id is `generate-button`, never the panel's own: the editor names this panel `#generate`.
    Its height is 3 so the label shows between the top and bottom bars of the button's border.
    """

    DEFAULT_CSS = """
    GeneratePanel { height: auto; padding: 0 1; }
    GeneratePanel > #generate-button { width: 100%; min-width: 10; height: 3; margin-top: 1; }
    GeneratePanel > #gen-note { color: $text-muted; height: auto; }
    GeneratePanel > #loop { border: none; height: 1; padding: 0; margin-top: 1; background: transparent; }
    GeneratePanel > #one-shot { border: none; height: 1; padding: 0; background: transparent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.codebook_max = 64

    def compose(self) -> ComposeResult:
        yield Slider("Creativity", 0.25, 4.0, 1.0, steps=40, log=True, fmt=lambda v: f"{v:.2f}", id="creativity",
                     tooltip="temperature: low is safe and repetitive, high is wild")
        yield Slider("Diversity", 0.05, 1.0, 1.0, steps=19, fmt=lambda v: f"{v:.2f}", off_at="high", id="diversity",
                     tooltip="top-p: sample only from the likeliest codes that together reach this probability")
        yield Slider("Focus", 1, 64, 64, steps=63, integer=True, fmt=lambda v: f"{v:.0f}", off_at="high", id="focus",
                     tooltip="top-k: sample only from the k likeliest codes")
        yield Slider("Length", 0.5, 10.0, 2.0, steps=19, fmt=lambda v: f"{v:.1f} s", id="length")
        yield Slider("Seed", 0, MAX_SEED, 0, steps=MAX_SEED, integer=True, fmt=lambda v: f"{v:.0f}", off_at="low",
                     id="seed", tooltip="0 draws a new seed each time; any other value repeats a result")
        loop = Checkbox("Seamless loop", False, id="loop")  # short: the side panel is 28 columns at 80×24
        loop.tooltip = ("the end flows into the start: a sound that plays round without a seam "
                        "(slower: several endings are tried)")
        yield loop
        one_shot = Checkbox("One-shot", False, id="one-shot")
        one_shot.tooltip = ("starts and ends in silence: a hit, a note, a swell (slower: several endings are tried)")
        yield one_shot
        yield Button("Generate ▸ new grid", id="generate-button", variant="primary")
        yield Static("", id="gen-note")

    def set_codebook_max(self, k: int) -> None:
        focus = self.query_one("#focus", Slider)
        self.codebook_max = k
        focus.high, focus.steps = float(k), max(k - 1, 1)
        focus.position = focus.steps
        focus.refresh()

    def set_seed(self, seed: int) -> None:
        """The seed Generate uses: 0 draws a new one each time, any other repeats a result (0..MAX_SEED)."""
        self.query_one("#seed", Slider).value = seed

    def set_note(self, text: str) -> None:
        self.query_one("#gen-note", Static).update(text)

    def request(self, shape: str | None = None) -> GenerateRequested:
        """The length and sampling settings the sliders show, as the message the Generate button posts. `shape`
        ("loop", "one-shot" or "" for neither) overrides the two boxes, which are left as they are."""
        s = {name: self.query_one(f"#{name}", Slider) for name in ("creativity", "diversity", "focus", "length", "seed")}
        settings = SamplingSettings(
            temperature=s["creativity"].value,
            top_k=None if s["focus"].is_off else int(s["focus"].value),
            top_p=None if s["diversity"].is_off else s["diversity"].value,
            seed=None if s["seed"].is_off else int(s["seed"].value),
        )
        loop, one_shot = self.query_one("#loop", Checkbox).value, self.query_one("#one-shot", Checkbox).value
        if shape is not None:
            loop, one_shot = shape == "loop", shape == "one-shot"
        return GenerateRequested(seconds=s["length"].value, settings=settings, loop=loop, one_shot=one_shot)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        """A loop and a one-shot exclude each other: ticking one clears the other."""
        other = {"loop": "#one-shot", "one-shot": "#loop"}.get(event.checkbox.id or "")
        if other and event.value:
            self.query_one(other, Checkbox).value = False

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "generate-button":
            event.stop()
            self.post_message(self.request())
