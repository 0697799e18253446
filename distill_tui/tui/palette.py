"""Colour maps for codes and spectrograms: perceptually uniform, colour-blind-safe ramps sampled to a few steps."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# Anchor colours of each map, darkest first. viridis and cividis are designed to read the same for the
# common colour-vision deficiencies (cividis even for full red-green blindness) and in greyscale.
MAPS: dict[str, tuple[str, ...]] = {
    "viridis": ("#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
                "#b5de2b", "#fde725"),
    "cividis": ("#00204d", "#00336f", "#39486b", "#575d6d", "#707173", "#8a8779", "#a69d75", "#c4b56c",
                "#e4cf5b", "#ffea46"),
    "magma": ("#000004", "#180f3e", "#451077", "#721f81", "#9f2f7f", "#cd4071", "#f1605d", "#fd9567",
              "#fec98d", "#fcfdbf"),
    "greys": ("#101010", "#f0f0f0"),
}
STEPS = 24  # colours per ramp: enough to see texture, few enough to keep the style cache small


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@lru_cache(maxsize=32)
def ramp(name: str, steps: int = STEPS) -> tuple[str, ...]:
    """`steps` colours evenly along the named map, as '#rrggbb' (unknown names fall back to viridis)."""
    anchors = [_rgb(c) for c in MAPS.get(name, MAPS["viridis"])]
    out = []
    for i in range(steps):
        x = i / max(steps - 1, 1) * (len(anchors) - 1)
        j = min(int(x), len(anchors) - 2)
        t = x - j
        a, b = anchors[j], anchors[j + 1]
        r, g, bl = (round(a[k] + (b[k] - a[k]) * t) for k in range(3))
        out.append(f"#{r:02x}{g:02x}{bl:02x}")
    return tuple(out)


def text_on(hex_colour: str) -> str:
    """Black or white, whichever reads better on the colour (relative luminance)."""
    r, g, b = (c / 255 for c in _rgb(hex_colour))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if lum > 0.45 else "#ffffff"


def step_of(position: float, steps: int = STEPS) -> int:
    """0..1 -> ramp index."""
    return min(max(int(position * steps), 0), steps - 1)


@dataclass(frozen=True)
class GridColours:
    """What a theme says about the code grid and the spectrogram (the `[distill]` table of a theme file)."""

    code_palette: str = "viridis"
    spectrogram_palette: str = "magma"
    cursor: str = "#ffffff"
    cursor_text: str = "#000000"
    selection: str = "#ff9e3d"
    selection_text: str = "#000000"
    playhead: str = "#ff3d7f"
    muted: str = "#3a3a3a"
    muted_text: str = "#8a8a8a"
    label: str = "#c8c8c8"
    ruler: str = "#9a9a9a"
    beat: str = "#5a5a5a"
