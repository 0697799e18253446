"""One verdict per codebook level, in words that are true; used by the side panel, the report, `info` and `eval`.

What is measured (analysis/codebook.py): a level's utilization (the share of its codes used over a
pass of the data) and its gain (how much closer, in dB of spectral distance, the decode gets when the
level is added to the levels above it). A small gain does not make a level silent: the decoder still
reads its codes, so changing them changes the sound. On the bundled demo, the second level gains
0.11 dB, yet drawing its codes at random moves the decoded spectrogram by 0.8 dB (mean frame distance
over samples/sounds, against the decode with the encoded codes), seven times its gain. A small gain
means the level carries fine detail on top of the levels above, so the verdicts say that, and keep
warnings for what is worth acting on: a codebook mostly unused, or a level that brings the
reconstruction no closer at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import TrainConfig
from ..errors import ModelFileError
from ..persistence.document import HealthSummary

if TYPE_CHECKING:
    from rich.table import Table

LOW_UTILIZATION = TrainConfig.low_utilization  # the trainer warns below this share of codes used
FAIR_UTILIZATION = 0.60  # below this a codebook is "underused": a smaller one would do
MIN_GAIN_DB = TrainConfig.min_level_gain_db  # the trainer's "try fewer levels" threshold
DETAIL_SHARE = 0.05  # under this share of all levels' gain a level is fine detail (perceptual.py's "Detail" label)
COLOURS = {"ok": "green", "note": "yellow", "warn": "red"}


@dataclass(frozen=True)
class LevelVerdict:
    """A level's verdict: a word or two, a severity ("ok", "note", "warn") and a sentence saying why."""

    word: str
    severity: str
    explanation: str

    @property
    def colour(self) -> str:
        """green, yellow or red (the panel's and the tables' colour for the severity)."""
        return COLOURS[self.severity]


def level_verdict(utilization: float | None, gain_db: float | None, total_gain_db: float,
                  codebook_size: int | None = None) -> LevelVerdict:
    """The verdict for one level from its utilization and measured gain.

    `total_gain_db` is the sum of every level's positive gain (the share puts a gain in proportion);
    `codebook_size` only improves the wording.
    """
    codes = f"its {codebook_size} codes" if codebook_size else "its codes"
    if utilization is None:
        return LevelVerdict("no data", "note", "this model file holds no health measurement for this level")
    if utilization < LOW_UTILIZATION:
        return LevelVerdict("mostly unused", "warn", f"uses {utilization:.0%} of {codes}: a smaller codebook, "
                            "or more audio, would serve it better")
    if gain_db is not None and gain_db <= 0.0:
        return LevelVerdict("no measured gain", "warn", f"adding it brings the decoded sound no closer to the original "
                            f"({gain_db:+.2f} dB): fewer levels would likely sound the same")
    if gain_db is not None and gain_db < MIN_GAIN_DB:
        return LevelVerdict("faint detail", "note", f"brings the decoded sound {gain_db:.2f} dB closer to the original (under the "
                            f"trainer's {MIN_GAIN_DB} dB): its codes still change the sound, but fewer levels may "
                            "sound the same")
    if utilization < FAIR_UTILIZATION:
        return LevelVerdict("underused", "note", f"uses {utilization:.0%} of {codes}: a smaller codebook would do")
    share = None if gain_db is None or total_gain_db <= 0 else max(gain_db, 0.0) / total_gain_db
    if share is not None and share < DETAIL_SHARE:
        return LevelVerdict("fine detail", "ok", f"adds {gain_db:.2f} dB ({share:.0%} of what the levels add "
                            "together): fine detail on top of the levels above; changing its codes still "
                            "changes the sound")
    adds = "" if share is None else f" and adds {gain_db:.2f} dB ({share:.0%} of what the levels add)"
    return LevelVerdict("healthy", "ok", f"uses {utilization:.0%} of {codes}{adds}")


def _number(values: Sequence[Any], q: int) -> float | None:
    v = values[q] if q < len(values) else None
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def as_health(health: HealthSummary | Mapping[str, Any] | None) -> HealthSummary:
    """A health section from the document, a health event or `info --json` (a plain dict); empty for None."""
    if health is None:
        return HealthSummary()
    if isinstance(health, HealthSummary):
        return health
    try:
        return HealthSummary.from_dict({k: v for k, v in health.items() if v is not None}, "health")
    except ModelFileError:  # a live event with a gap (a NaN turned null): show what there is
        lists = {k: list(v) if isinstance(v, list) else [] for k, v in health.items()
                 if k in ("utilization", "perplexity", "dead_codes", "level_gain_db")}
        return HealthSummary(**lists)


def level_verdicts(health: HealthSummary | Mapping[str, Any] | None, sizes: Sequence[int] | None = None) -> list[LevelVerdict]:
    """One verdict per level (per codebook size when `sizes` is given, else per utilization entry)."""
    h = as_health(health)
    n = len(sizes) if sizes is not None else len(h.utilization)
    total = sum(max(g, 0.0) for g in h.level_gain_db)
    return [level_verdict(_number(h.utilization, q), _number(h.level_gain_db, q), total,
                          sizes[q] if sizes is not None else None) for q in range(n)]


@dataclass(frozen=True)
class HealthRow:
    """One level's row of a health table, formatted; `verdict` is the shared verdict."""

    level: str
    utilization: str
    perplexity: str
    dead_codes: str
    gain_db: str
    verdict: LevelVerdict


# The words of the editor's Health panel and the info report: the share of codes used, about how many are common
# (the perplexity of their use), the codes never used, and what the level adds to the decoded sound.
HEADERS = ("level", "used", "~common", "idle codes", "adds dB", "verdict")


def health_rows(health: HealthSummary | Mapping[str, Any] | None, sizes: Sequence[int] | None = None) -> list[HealthRow]:
    """The rows `info` and `eval` print (and the report's table is built from the same verdicts)."""
    h = as_health(health)

    def fmt(values: Sequence[Any], q: int, spec: str) -> str:
        v = _number(values, q)
        return "?" if v is None else format(v, spec)

    return [HealthRow(str(q + 1), "?" if _number(h.utilization, q) is None else f"{h.utilization[q]:.0%}",
                      fmt(h.perplexity, q, ".1f"), fmt(h.dead_codes, q, ".0f"), fmt(h.level_gain_db, q, ".2f"), v)
            for q, v in enumerate(level_verdicts(h, sizes))]


def rich_health_table(health: HealthSummary | Mapping[str, Any] | None, sizes: Sequence[int] | None = None,
                      title: str = "codebook health") -> Table:
    """A `rich.table.Table` of `health_rows` (the verdict coloured by severity)."""
    from rich.table import Table  # noqa: PLC0415 - only the commands print tables

    t = Table(title=title)
    for col in HEADERS:
        t.add_column(col, justify="left" if col == "verdict" else "right")
    for r in health_rows(health, sizes):
        t.add_row(r.level, r.utilization, r.perplexity, r.dead_codes, r.gain_db,
                  f"[{r.verdict.colour}]{r.verdict.word}[/]")
    return t
