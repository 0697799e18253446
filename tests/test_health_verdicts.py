"""One level verdict, the same in the side panel, the report, `info` and `eval`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from distill_tui.analysis.health import level_verdict, level_verdicts
from distill_tui.analysis.model_info import model_info
from distill_tui.analysis.report import markdown_report
from distill_tui.cli import main
from distill_tui.tui.widgets.health_bars import level_health

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "samples" / "demo.distill"


@pytest.mark.parametrize(("util", "gain", "total", "word", "severity"), [
    (None, None, 0.0, "no data", "note"),
    (0.1, 5.0, 10.0, "mostly unused", "warn"),
    (0.9, -0.05, 10.0, "no measured gain", "warn"),
    (0.9, 0.01, 10.0, "faint detail", "note"),
    (0.5, 3.0, 10.0, "underused", "note"),
    (1.0, 0.11, 14.84, "fine detail", "ok"),
    (0.98, 14.7, 14.84, "healthy", "ok"),
    (0.98, None, 0.0, "healthy", "ok"),
])
def test_level_verdict(util, gain, total, word, severity):
    v = level_verdict(util, gain, total, 64)
    assert (v.word, v.severity) == (word, severity) and v.explanation and "\n" not in v.explanation


def test_small_gain_is_called_detail_not_useless():
    v = level_verdicts({"utilization": [0.98, 1.0], "level_gain_db": [14.7254, 0.1097]}, [64, 64])[1]
    assert v.word == "fine detail" and "still changes the sound" in v.explanation
    for word in ("little", "nothing", "useless"):
        assert word not in v.word


def _table_verdicts(text: str, levels: int) -> list[str]:
    """The verdict column of a printed health table (rows start with │ level │)."""
    rows = [r for r in text.splitlines() if re.match(r"^│\s+\d+ │", r)]
    assert len(rows) >= levels
    return [r.split("│")[-2].strip() for r in rows[-levels:]]


def test_all_four_places_agree_on_the_demo(capsys):
    info = model_info(DEMO)
    sizes = info["codebook_sizes"]
    shared = [v.word for v in level_verdicts(info["health"], sizes)]
    assert shared == ["healthy", "fine detail"]

    panel = [h.verdict for h in level_health(info["health"], sizes, ["", ""])]
    report = markdown_report(info, "demo.distill")
    report_rows = [r for r in report.splitlines() if re.match(r"^\| \d+ \|", r)]
    report_words = [r.split("|")[-2].strip().split(":")[0].strip("*") for r in report_rows]

    assert main(["info", str(DEMO)]) == 0
    out = capsys.readouterr().out
    info_words = _table_verdicts(out, len(sizes))
    assert "idle codes" in out and "~common" in out and "dead codes" not in out  # the editor's words, not "dead"

    assert main(["eval", str(DEMO), str(ROOT / "samples" / "sounds")]) == 0
    eval_words = _table_verdicts(capsys.readouterr().out, len(sizes))

    assert panel == report_words == info_words == shared
    # eval measures on the data it is given; on the demo's own sounds that is the stored measurement
    assert eval_words == shared
