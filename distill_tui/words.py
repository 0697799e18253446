"""How counts are said to a person: "1 sound", "3 sounds", "levels 2, 3" — never "sound(s)"."""

from __future__ import annotations

from collections.abc import Sequence


def counted(n: int, word: str, many: str | None = None) -> str:
    """`counted(1, "sound")` is "1 sound", `counted(3, "sound")` "3 sounds"; `many` for an irregular plural."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def numbered(word: str, numbers: Sequence[int | str], many: str | None = None) -> str:
    """`numbered("level", [2])` is "level 2", `numbered("level", [2, 3])` "levels 2, 3"."""
    return f"{word if len(numbers) == 1 else many or word + 's'} {', '.join(str(x) for x in numbers)}"
