"""What a training run prints to a log (stderr not a terminal)."""

from __future__ import annotations

import io

from rich.console import Console

from distill_tui.train.display import TrainDisplay


def _display() -> tuple[TrainDisplay, io.StringIO]:
    out = io.StringIO()
    display = TrainDisplay("training")
    display.console = Console(file=out, width=60)  # not a terminal: a log file
    display.live = False
    return display, out


def test_a_long_line_in_a_log_is_not_wrapped() -> None:
    display, out = _display()
    path = "/home/someone/sounds/a rather long folder name/beats/electro_beat01.ogg"
    display({"event": "warning", "message": f"1 file below 44100 Hz is upsampled: {path} (22050 Hz)"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and path in lines[0]


def test_validation_says_which_figure_the_best_is_of() -> None:
    """The best is of the smoothed distance: printed beside the raw one alone it read as a best above the current."""
    display, out = _display()
    display({"event": "eval", "step": 400, "val_db": 6.28, "smooth_val_db": 7.145, "best_val_db": 7.145})
    text = out.getvalue()
    assert "validation 6.28 dB (smoothed 7.1" in text
    assert "best smoothed 7.1" in text
