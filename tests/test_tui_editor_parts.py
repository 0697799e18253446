"""The editor's helpers without an app: worker failures as messages, codes files changed on disk, the palette table."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from distill_tui.codes.grid import CodeGrid
from distill_tui.errors import BadInputError
from distill_tui.inference.sampling import SamplingSettings
from distill_tui.tui.commands import COMMANDS
from distill_tui.tui.messages import LoadFailed, WorkFailed
from distill_tui.tui.workers import report_failures
from distill_tui.tui.workspace import Workspace, disk_stamp


class Owner:
    def __init__(self) -> None:
        self.posted: list = []

    def post_message(self, message) -> bool:  # noqa: ANN001
        self.posted.append(message)
        return True

    @report_failures("{label}", known="{reason}")
    def compute(self, label: str, fail: Exception | None = None) -> int:
        if fail is not None:
            raise fail
        return 7

    @report_failures("{path}", unexpected="{path}: cannot read ({kind}: {exc})", failed=LoadFailed)
    def open(self, path: Path) -> None:
        raise ValueError("garbage")


def test_report_failures_turns_exceptions_into_one_message():
    owner = Owner()
    assert owner.compute("ramp") == 7 and owner.posted == []
    assert owner.compute("ramp", BadInputError("top-k must be at least 1", "/m.distill")) is None
    assert owner.posted[-1] == WorkFailed("ramp", "top-k must be at least 1")  # `known` chose the reason without the path
    assert owner.compute("blend", fail=KeyError("q")) is None
    assert owner.posted[-1] == WorkFailed("blend", "KeyError: 'q'")
    assert owner.open(Path("x.wav")) is None
    assert owner.posted[-1] == LoadFailed("x.wav", "x.wav: cannot read (ValueError: garbage)")


def test_sampling_settings_validate():
    SamplingSettings(temperature=0.5, top_k=3, top_p=0.9, seed=1).validate()
    for bad in ({"temperature": 0.0}, {"temperature": float("nan")}, {"top_k": 0}, {"top_p": 1.5}):
        with pytest.raises(BadInputError):
            SamplingSettings(**bad).validate()


def _grid() -> CodeGrid:
    return CodeGrid(codes=np.zeros((2, 8), dtype=np.int64), model_fingerprint="ab12", codebook_sizes=[16, 16],
                    sample_rate=22050, hop_length=256, stride=4, name="tone")


def _touch_later(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 3_000_000_000))


def test_changed_on_disk_watches_the_file_read_and_the_file_written(tmp_path: Path):
    path = tmp_path / "tone.codes.json"
    _grid().save(path)
    ws = Workspace()
    name = ws.add(CodeGrid.load(path), codes_path=path, stamp=disk_stamp(path)).name
    assert not ws.changed_on_disk(name, path)
    _touch_later(path)
    assert ws.changed_on_disk(name, path) and ws.changed_on_disk(name)
    assert not ws.changed_on_disk(name, tmp_path / "elsewhere.codes.json")  # a save-as is not watched
    ws.save(name, path)
    assert not ws.changed_on_disk(name, path)  # what we wrote is the new reference
    path.unlink()
    assert not ws.changed_on_disk(name, path)  # a file that is gone loses nothing when written


def test_a_generated_sound_has_no_file_to_watch(tmp_path: Path):
    ws = Workspace()
    name = ws.add(_grid(), unsaved=True).name
    assert not ws.changed_on_disk(name, tmp_path / "tone.codes.json")


def test_palette_table_titles_are_unique():
    titles = [c.title for c in COMMANDS]
    assert len(titles) == len(set(titles))


def test_a_musicians_words_find_their_palette_entries():
    """The palette matches what is typed against the titles (Textual's fuzzy matcher): "bpm" found nothing while
    the tempo was only "Set tempo…"."""
    from textual.fuzzy import Matcher

    titles = [c.title for c in COMMANDS]
    for typed, want in (("bpm", "Set tempo (BPM)…"), ("tempo", "Set tempo (BPM)…"), ("loop", "Loop playback on/off"),
                        ("loop", "Generate a seamless loop"), ("one-shot", "Generate a one-shot"),
                        ("variation", "Variations…"), ("export", "Export WAV…"), ("reverse", "Reverse selection")):
        assert Matcher(typed).match(want) > 0 and want in titles, (typed, want)


def test_demo_paths_point_at_the_repository_samples():
    from distill_tui.inference.session import demo_paths

    from .test_tui_support import DEMO_MODEL, DEMO_SOUNDS

    model, sounds = demo_paths()  # inside the package; the repository's samples/ links there
    assert model.resolve() == DEMO_MODEL.resolve()
    assert all(s.parent.resolve() == DEMO_SOUNDS.resolve() for s in sounds) and (sounds or not DEMO_SOUNDS.is_dir())


def test_tempo_and_edit_step_refuse_what_they_cannot_use():
    """Set tempo (BPM)… and Set edit step… take a number in their range; anything else is said and changes nothing."""
    from types import SimpleNamespace

    from distill_tui.tui.editing import EditingActions

    class Editor(EditingActions):
        def __init__(self) -> None:
            self.said: list[str] = []
            self.bpm, self.grid = 120.0, SimpleNamespace(edit_step=1)

        def notify(self, message: str, severity: str = "") -> None:
            self.said.append(message)

        def set_message(self, text: str) -> None:
            self.said.append(text)

    ed = Editor()
    for text in ("3.5", "-1", "65", "", "x"):
        ed.set_edit_step(text)
    for text in ("nan", "inf", "19", "401", "fast"):
        ed.set_tempo(text)
    assert ed.grid.edit_step == 1 and ed.bpm == 120.0
    assert ed.said == ["the edit step is a whole number from 0 to 64"] * 5 + \
        ["tempo must be a number of beats per minute between 20 and 400"] * 5
    ed.set_edit_step("0")
    assert ed.grid.edit_step == 0 and ed.said[-1] == "edit step 0"


def test_an_open_sound_may_be_named_in_part():
    """"Generate in the style of… 909beat01, break" said "'break' is not an open sound (open: 909beat01,
    break01, …)": the one sound it could mean was listed beside the refusal."""
    ws = Workspace()
    for name in ("909beat01", "break01", "Bassdrum01", "bassdrum_acoustic01"):
        grid = _grid()
        grid.name = name
        ws.add(grid)
    assert ws.named("break01") == "break01" and ws.named("break") == "break01" and ws.named("BREAK01") == "break01"
    assert ws.named("909") == "909beat01" and ws.named("acoustic") == "bassdrum_acoustic01"
    assert ws.named("bassdrum01") == "Bassdrum01"  # the whole name in another case, though it starts another
    with pytest.raises(BadInputError, match="'bass' could be Bassdrum01 or bassdrum_acoustic01: type more of the name"):
        ws.named("bass")
    with pytest.raises(BadInputError, match=r"'snare' is not an open sound \(open: 909beat01, break01"):
        ws.named("snare")


def test_the_palette_matches_whole_words_of_an_entrys_help():
    from distill_tui.tui.palette_search import says_every_word

    assert says_every_word("morph the selection toward B's sound", "morph")
    assert says_every_word("morph the selection toward B's sound", "Morph sel")  # word starts, any case
    assert not says_every_word("morph the selection toward B's sound", "orph")  # not inside a word
    assert not says_every_word("morph the selection toward B's sound", "mts")  # not letters in order
    assert not says_every_word("morph the selection", "")



def test_the_status_line_puts_the_message_before_the_decode_time():
    """At 80 columns the line is cut: "generated a loop of 2.0 s (seed 83125)" lost its seed while "decode 142 ms"
    (the least needed) stood before it."""
    from types import SimpleNamespace

    from distill_tui.tui.editor_panels import status_text

    ws = Workspace()
    ws.add(_grid())
    view = SimpleNamespace(mode="NORMAL", count_pending="", typed="", level=0, pos=0)
    line = status_text(view, ws, playing=False, follow=False, decode_ms=142.0,  # type: ignore[arg-type]
                       message="generated a loop of 2.0 s (seed 83125)")
    assert line.index("(seed 83125)") < line.index("decode 142 ms")
