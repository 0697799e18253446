"""One scale of words for how far two spectra are apart, used wherever Distill says it in words.

The distance is a log-spectral distance in dB (Metrics in docs/architecture.md). The A/B key reads the edit
against the original on it, and the health panel reads what muting or re-rolling a level does to a sound:

- "close"   under `CLOSE_DB` (2 dB),
- "changed" from 2 to `ROUGH_DB` (6 dB),
- "rough"   above 6 dB.

bench/ab_closeness.py measured where these fall on real sounds (bench/RESULTS.md, "A/B against the original"):
a 5-minute model's decode sits about 3 dB from its recording, a re-rolled finest level 1.6 dB from the decode,
a re-rolled middle level 2.7 dB, a re-rolled coarsest level 19.5 dB. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

CLOSE_DB = 2.0  # under this two sounds read "close"
ROUGH_DB = 6.0  # above this "rough"; between the two "changed"


@dataclass(frozen=True)
class Closeness:
    """A distance in dB and its word."""

    lsd_db: float
    word: str  # "close", "changed" or "rough"


def closeness(lsd_db: float) -> Closeness:
    """The word for a distance (see the module's thresholds)."""
    word = "close" if lsd_db < CLOSE_DB else "changed" if lsd_db <= ROUGH_DB else "rough"
    return Closeness(float(lsd_db), word)
