"""How counts and names are said to a person: "1 sound", "3 sounds", "levels 2, 3" (never "sound(s)"), "5.2 seconds"
of audio (never "0.09 minutes"), and a name too long for its place cut in the middle."""

from __future__ import annotations

from collections.abc import Sequence


def counted(n: int, word: str, many: str | None = None) -> str:
    """`counted(1, "sound")` is "1 sound", `counted(3, "sound")` "3 sounds"; `many` for an irregular plural."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def duration(seconds: float) -> str:
    """A length of time (of audio, of training) in the unit a person reads it in: "3.6 seconds", "1 minute",
    "12 minutes", "1 h 05 min"."""

    def amount(x: float, unit: str) -> str:
        text = f"{x:.1f}".removesuffix(".0") if x < 10 else f"{x:.0f}"
        return f"{text} {unit if text == '1' else unit + 's'}"

    if seconds < 59.95:
        return amount(seconds, "second")
    if seconds / 60 < 59.5:
        return amount(seconds / 60, "minute")
    h, m = divmod(round(seconds / 60), 60)
    return f"{h} h {m:02d} min"


def numbered(word: str, numbers: Sequence[int | str], many: str | None = None) -> str:
    """`numbered("level", [2])` is "level 2", `numbered("level", [2, 3])` "levels 2, 3"."""
    return f"{word if len(numbers) == 1 else many or word + 's'} {', '.join(str(x) for x in numbers)}"


def shortened(text: str, width: int) -> str:
    """`text` cut in the middle to at most `width` characters: "a_long_sample_n…_kick_03". The end is kept whole
    where the two halves differ in length: names in a sample pack tend to differ there."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = (width - 1) // 2
    return f"{text[:head]}…{text[len(text) - (width - 1 - head):]}"


def distinct_shortened(names: list[str], width: int) -> dict[str, str]:
    """Each of `names` fitted to `width` characters, cut so that the part telling it from the others stays in view.

    Cut in the middle (`shortened`) unless the names share a start longer than half the width ("pack_vol_1_…",
    "pack_vol_2_…"): then the window moves to where this name first differs from its nearest neighbour, with a
    little of what comes before it, e.g. "…ple_pack_vol_1_processed…"."""
    order = sorted(set(names))
    shared: dict[str, int] = {}  # the longest start this name shares with another one
    for i, name in enumerate(order):
        near = [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)]
        shared[name] = max((_common_start(name, other) for other in near), default=0)
    out = {}
    for name in names:
        d = shared[name]
        if len(name) <= width or d < (width - 1) // 2 or width < 8:
            out[name] = shortened(name, width)
            continue
        start = max(0, d - (width - 2) // 3)
        if start + width - 1 >= len(name):  # the difference is near the end: keep the end whole
            out[name] = "…" + name[len(name) - (width - 1):]
        else:
            out[name] = "…" + name[start : start + width - 2] + "…"
    return out


def _common_start(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
