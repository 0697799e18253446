"""`SamplingSettings`: how the prior draws codes (temperature, top-k, top-p, seed). No torch here.

One class for every caller: the command line (`generate`, `edit regenerate`), the editor's generate
panel and its palette commands, and training's memorization guard. It lives apart from
`inference/generate.py` so that the editor can build one before torch is imported.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from ..config import MAX_SEED
from ..errors import BadInputError

MOST_CANDIDATES = 64  # samples drawn side by side to choose from (4 by default, 16 for a loop): each holds a cache
# A seed drawn for a run that names none is 1..DRAWN_SEEDS: six digits, said with the result and typed back in a
# moment (`--seed`, the editor's Set seed…). They were 31-bit numbers, which the generate panel's seed (0..9999)
# could not hold, so a generated sound the musician liked could not be drawn again from the editor.
DRAWN_SEEDS = 999_999


def draw_seed() -> int:
    """A fresh seed, 1..DRAWN_SEEDS (0 stays "draw one" in the editor's panel)."""
    return secrets.randbelow(DRAWN_SEEDS) + 1


def check_candidates(n: int, what: str = "candidates") -> None:
    """Refuse (BadInputError) a number of candidates outside 1..MOST_CANDIDATES: a million were drawn side by side
    and the process was killed for memory without a word."""
    if not 1 <= n <= MOST_CANDIDATES:
        raise BadInputError(f"{what} must be from 1 to {MOST_CANDIDATES}, got {n}")


@dataclass
class SamplingSettings:
    """Temperature, the top-k and top-p filters, and the seed of one sampling run."""

    temperature: float = 1.0
    top_k: int | None = None  # keep exactly the k likeliest codes
    top_p: float | None = None  # keep the smallest set of likeliest codes whose probability reaches p
    seed: int | None = None  # same seed and settings -> the same grid (on CPU); None draws one

    def validate(self) -> None:
        """Raise `BadInputError` naming the first setting the sampler cannot use."""
        if not self.temperature > 0 or not math.isfinite(self.temperature):
            raise BadInputError(f"temperature must be a positive number, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise BadInputError(f"top-k must be at least 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise BadInputError(f"top-p must be in (0, 1], got {self.top_p}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise BadInputError(f"seed must be a whole number from 0 to 2^63 - 1, got {self.seed}")
