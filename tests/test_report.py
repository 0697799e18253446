"""The shareable model report: Markdown from `info`, and the PNG heatmap only with the `report` extra."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from distill_tui.analysis.model_info import grid_words
from distill_tui.analysis.report import PNG_NEEDS, level_verdicts, markdown_report, write_report
from distill_tui.commands.info import model_info


def test_markdown_has_every_section(tiny_model: Path):
    info = model_info(tiny_model)
    text = markdown_report(info, "tiny.distill", "tiny.usage.png")
    for section in ("# Model report: tiny.distill", "## Dataset", "## Training", "## Codebook health", "## Prior",
                    "## Configuration", "![codebook usage"):
        assert section in text
    assert text.count("\n| ") == 1 + info["levels"]  # the header and one row per level
    assert "No prior yet" in text and "*Train the prior…*" in text  # the report screen is read in the editor too
    assert len(level_verdicts(info)) == info["levels"]


def test_prior_verdict_is_reported():
    info = {"levels": 1, "codebook_sizes": [8], "health": {"utilization": [0.1], "perplexity": [2.0],
            "dead_codes": [7], "level_gain_db": [3.0]},
            "prior": {"architecture": "transformer", "val_perplexity": 12.5, "bigram_val_perplexity": 14.0,
                      "copy_rate_8gram": 0.2, "verdict": "generalizes"}}
    text = markdown_report(info, "m")
    assert "memorization verdict" not in text and "12.50" in text and "mostly unused" in text
    prior = text.split("## Prior")[1].strip()
    assert prior.startswith("**generalizes**")  # the plain reading first, the figures after


def test_the_grid_and_the_training_distance_are_said_as_the_editor_says_them():
    """The report opened "3 levels × [128, 128, 128] codes, stride 4" and "best validation distance 4.34 dB"."""
    info = {"levels": 3, "codebook_sizes": [128] * 3, "stride": 4, "sample_rate": 44100,
            "spectrogram": {"hop_length": 512}, "training": {"steps": 2395, "seconds": 300, "device": "cpu", "best_val_db": 4.34}}
    text = markdown_report(info, "m")
    assert "3 levels × 128 codes, a column every 46 ms (stride 4), 44100 Hz" in text
    assert "the decoded training sounds were 4.34 dB from the originals" in text and "validation distance" not in text
    mixed = markdown_report({**info, "codebook_sizes": [128, 64, 64]}, "m")
    assert "3 levels × [128, 64, 64] codes" in mixed


def test_the_dataset_is_said_in_seconds_or_minutes():
    """The report read "13 files, 0.27 minutes": `info` and the training form say "16 seconds"."""
    info = {"levels": 1, "codebook_sizes": [8], "dataset": {"files": 13, "minutes": 0.27, "root": "s"}}
    assert "13 files, 16 seconds, from `s`" in markdown_report(info, "m")


def test_write_report_with_or_without_matplotlib(tiny_model: Path, tmp_path: Path):
    model = tmp_path / "m.distill"
    shutil.copy(tiny_model, model)
    files = write_report(model)
    assert files.markdown == tmp_path / "m.report.md" and files.markdown.exists()
    if importlib.util.find_spec("matplotlib") is None:
        assert files.png is None and files.note == PNG_NEEDS and PNG_NEEDS in files.markdown.read_text()
    else:
        assert files.png is not None and files.png.read_bytes()[:4] == b"\x89PNG"
        assert f"]({files.png.name})" in files.markdown.read_text()


def test_a_second_report_never_replaces_the_first(tiny_model: Path, tmp_path: Path):
    model = tmp_path / "m.distill"
    shutil.copy(tiny_model, model)
    out = tmp_path / "reports"
    out.mkdir()
    first = write_report(model, out)
    first.markdown.write_text("annotated by hand")
    second = write_report(model, out)
    third = write_report(model, out)
    assert first.markdown == out / "m.report.md" and first.markdown.read_text() == "annotated by hand"
    assert (second.markdown, third.markdown) == (out / "m-2.report.md", out / "m-3.report.md")
    assert "## Codebook health" in second.markdown.read_text()
    if second.png is not None:  # the heatmap is numbered with its report, and linked from it
        assert second.png == out / "m-2.usage.png" and "](m-2.usage.png)" in second.markdown.read_text()


def test_png_heatmap(tmp_path: Path):
    pytest.importorskip("matplotlib")
    from distill_tui.analysis.report import heatmap_png

    heatmap_png([[3, 0, 1], [1, 1]], tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_info_says_the_grid_and_the_training_distance_as_the_report_does(tiny_model: Path, capsys):
    """`info` said "2 levels x [16, 16] codes, stride 4" and "validation 9.87 dB", as the report did."""
    from distill_tui.cli import main

    assert main(["info", str(tiny_model)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal's width
    info = model_info(tiny_model)
    assert grid_words(info) in out and "a column every" in out and " x [" not in out
    assert "the decoded training sounds were" in out and "; validation" not in out
