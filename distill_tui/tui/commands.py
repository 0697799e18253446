"""The editor's command-palette entries: a table of every operation by name, acting on the selection or the cursor.

Each entry either runs at once (`Command`) or asks for one value first (`Question`). Entries reach the
editor only through its public methods (`edit_selection`, `compute_edit`, `require`, `ask`, the
actions…); the app adds Theme, Keys, Quit and Screenshot, and the training commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from ..codes import edits as E
from ..codes import masks, patterns
from ..codes.grid import LONGEST_DECODE_S
from ..errors import BadInputError, DistillError
from ..words import counted, numbered
from .prior_training import train_prior
from .templates import first_template, paste_template, paste_template_help, save_template

if TYPE_CHECKING:
    import numpy as np

    from ..codes.grid import CodeGrid
    from ..codes.selection import Selection
    from .screens.editor import EditorScreen

Text = str | Callable[["EditorScreen"], str]  # fixed, or worked out when the palette opens


def _text(text: Text, s: EditorScreen) -> str:
    return text if isinstance(text, str) else text(s)


@dataclass(frozen=True)
class Command:
    """A palette entry that runs `run(editor)` when chosen."""

    title: str
    help: Text
    run: Callable[[EditorScreen], object]

    def entry(self, s: EditorScreen) -> SystemCommand:
        return SystemCommand(self.title, _text(self.help, s), lambda: self.run(s))


@dataclass(frozen=True)
class Question:
    """A palette entry that checks `needs`, asks `question` (with `default`), then calls `then(editor, text)`."""

    title: str
    help: Text
    question: str
    default: Text
    then: Callable[[EditorScreen, str], object]
    needs: tuple[str, ...] = ()

    def entry(self, s: EditorScreen) -> SystemCommand:
        return SystemCommand(self.title, _text(self.help, s), lambda: self.ask(s))

    def ask(self, s: EditorScreen) -> None:
        if all(s.require(n) for n in self.needs):
            s.ask(self.question, _text(self.default, s), lambda text: self.then(s, text))


# ---- between A and B
def blend(s: EditorScreen, text: str) -> None:
    try:
        amount = float(text)
    except ValueError:
        s.notify("the amount is a number from 0 (keep A) to 1 (take B)", severity="error")
        return
    s.edit_selection_with_model(
        lambda sel: E.Blend(selection=sel, other=s.ws.grid(s.ws.b), amount=amount,
                            quantizer=s.engine.codec.model.quantizer),
        f"blended {amount:g} toward B", needs=("sound", "model", "B"))


def _levels(s: EditorScreen) -> list[int]:
    sel = s.grid.selection
    return list(range(sel.level_start, sel.level_stop or 0))


def take_levels(s: EditorScreen) -> None:
    s.edit_selection(lambda sel: E.TakeLevels(source=s.ws.grid(s.ws.b), levels=_levels(s), align="stretch"),
                     "took levels from B", needs=("sound", "B"))


# ---- time
def _count(word: str, what: str, least: int = 1, most: int | None = None, limit: str = "") -> int:
    """`word` as a whole number of `what`, at least `least` and, when given, at most `most`, where `limit` says
    what sets `most` (else BadInputError, in words)."""
    try:
        n = int(word)
    except ValueError:
        raise BadInputError(f"{word.strip() or 'nothing'} is not a whole number of {what}") from None
    if most is None and n < least:
        raise BadInputError(f"give at least {least} for the number of {what}")
    if most is not None and not least <= n <= most:
        raise BadInputError(f"give {least} to {most} {what} ({limit})")
    return n


FITS = f"what fits in the {LONGEST_DECODE_S / 60:g} minutes Distill decodes"


def _room(s: EditorScreen) -> int | None:
    """How many columns A may still grow by (None: no sound in A)."""
    return s.ws.grid(s.ws.a).room() if s.ws.a else None


def repeat(s: EditorScreen, text: str) -> None:
    sel = s.grid.selection
    width = (sel.pos_stop or 0) - sel.pos_start
    most = s.ws.grid(s.ws.a).most_repeats(width) if s.ws.a else None
    try:  # the most that fits is said up front: 1e20 times read "the result would be 309599395313681088.0 minutes"
        times = _count(text, "times", most=most, limit=FITS)
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    s.edit_selection(lambda sel: E.RepeatColumns(start=sel.pos_start, stop=sel.pos_stop or 0, times=times),
                     f"repeated ×{times}")


def insert(s: EditorScreen, text: str) -> None:
    room = _room(s)
    if room == 0:
        s.notify(f"{s.ws.a} is as long as Distill decodes ({LONGEST_DECODE_S / 60:g} minutes): no column fits",
                 severity="error")
        return
    try:
        count = _count(text, "columns", most=None if room is None else room, limit=FITS)
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    s.edit_selection(lambda sel: E.InsertColumns(at=s.grid.pos, count=count), f"inserted {counted(count, 'column')}")


# ---- fills and patterns
def _words(text: str, least: int, most: int, example: str) -> list[str]:
    """`text` split at spaces or commas into `least` to `most` words, else BadInputError with an example answer."""
    words = text.replace(",", " ").split()
    if not least <= len(words) <= most:
        raise BadInputError(f"give {example}")
    return words


def _code(s: EditorScreen, word: str) -> int:
    """`word` as a hex code that exists on every selected level (else BadInputError, in hex as the grid shows)."""
    try:
        code = int(word, 16)
    except ValueError:
        raise BadInputError(f"{word} is not a code: codes are written in hex, like 1f") from None
    grid = s.ws.grid(s.ws.a)
    sel = s.grid.selection
    for level in range(sel.level_start, sel.level_stop or grid.levels):
        grid.check_code(level, code)
    return code


def _width(s: EditorScreen) -> int:
    return max(s.grid.selection.shape[1], 1)


def fill(s: EditorScreen, text: str) -> None:
    try:
        (word,) = _words(text, 1, 1, "one code in hex, like 1f")
        code = _code(s, word)
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    s.edit_selection(lambda sel: E.Fill(selection=sel, code=code), f"filled with {code:02x}")


def alternate(s: EditorScreen, text: str) -> None:
    try:
        a, b, *rest = _words(text, 2, 3, "two codes in hex and a period, like 1f 20 2")
        period = _count(rest[0], "positions for the period", 1, _width(s), "the selection's width") if rest else 1
        pattern = patterns.alternate(_code(s, a), _code(s, b), period)
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    s.edit_selection(lambda sel: E.FillPattern(selection=sel, pattern=pattern), "alternating fill")


def euclid(s: EditorScreen, text: str) -> None:
    try:
        code, hits, steps = _words(text, 3, 3, "a code in hex, hits and steps, like 1f 3 8")
        n_steps = _count(steps, "steps", 1, _width(s), "the selection's width")
        pattern = patterns.euclid(_code(s, code), _count(hits, "hits", 0, n_steps, "the steps"), n_steps)
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    s.edit_selection(lambda sel: E.FillPattern(selection=sel, pattern=pattern), "Euclidean rhythm")


def ramp(s: EditorScreen, text: str) -> None:
    if not s.require("model"):
        return
    try:
        a, b = (_code(s, w) for w in _words(text, 2, 2, "two codes in hex, like 00 3f"))
        pattern = patterns.ramp(s.engine.order[s.grid.level], a, b, _width(s))
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    s.edit_selection(lambda sel: E.FillPattern(selection=sel, pattern=pattern), "ramp")


# ---- the prior
LONGEST_CONTINUATION_S = 60.0  # at batch 1 about a minute of sampling on a 2-core CPU


def _seconds_to_continue(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise BadInputError(f"{text.strip() or 'nothing'} is not a number of seconds: give one like 1.5") from None
    if not 0 < seconds <= LONGEST_CONTINUATION_S:  # NaN fails this too
        raise BadInputError(f"continue by more than 0 and at most {LONGEST_CONTINUATION_S:g} seconds")
    return seconds


def continue_(s: EditorScreen, text: str) -> None:
    if not (s.require("sound") and s.require("model")):
        return
    try:
        seconds = _seconds_to_continue(text)
        prior = s.engine.require_prior()
        settings = s.sampling_settings()
        settings.validate()
    except (ValueError, DistillError) as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    grid = s.ws.grid(s.ws.a)
    total = grid.positions + max(1, round(seconds / grid.seconds_per_position))
    s.compute_edit(E.Continue(total_positions=total, prior=prior, settings=settings), f"continued {seconds:g} s")


def _regenerate_part(s: EditorScreen, free_cells: Callable[[CodeGrid, Selection, list[int]], np.ndarray],
                     label: str) -> None:
    """Regenerate the cells of the selection that `free_cells(grid, selection, levels)` marks ((Q, P) bool, as
    `codes/masks.py` makes them); the others are kept, and the prior hears them."""
    if not all(s.require(n) for n in ("sound", "model", "selection")):
        return
    grid, sel = s.ws.grid(s.ws.a), s.grid.selection
    try:
        prior = s.engine.require_prior()
        settings = s.sampling_settings()
        settings.validate()
        free = free_cells(grid, sel, list(range(sel.level_start, sel.level_stop or grid.levels)))[sel.slices]
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    s.grid.end_selection()
    s.compute_edit(E.Regenerate(selection=sel, prior=prior, settings=settings, free=free), label)


def regenerate_every(s: EditorScreen, text: str) -> None:
    try:
        (word,) = _words(text, 1, 1, "a whole number of columns, like 2")
        every = _count(word, "columns", 1, _width(s), "the selection's width")
    except DistillError as exc:
        s.bad(exc)  # type: ignore[arg-type]
        return
    _regenerate_part(s, lambda g, sel, levels: masks.every_nth(g.levels, g.positions, sel.pos_start, sel.pos_stop or 0,
                                                               every, levels=levels),
                     f"regenerated every {every} columns" if every > 1 else "regenerated with the prior")


def regenerate_off_beats(s: EditorScreen) -> None:
    _regenerate_part(s, lambda g, sel, levels: masks.beat_mask(g.levels, g.positions, sel.pos_start, sel.pos_stop or 0,
                                                               s.bpm, g.seconds_per_position, levels=levels,
                                                               origin=0),  # the sound's beats, not the selection's
                     f"regenerated every other beat at {s.bpm:g} BPM")


def variations(s: EditorScreen, text: str) -> None:
    from .screens.variations import open_variations  # the slots screen, only when asked for

    open_variations(s, text)


def style(s: EditorScreen, text: str) -> None:
    from .style import generate_in_style  # the prior's style machinery, only when asked for

    generate_in_style(s, text)


# ---- files (a picker: Tab completes, the list shows what can be opened)
def save_as(s: EditorScreen, text: str) -> None:
    from .sound_files import codes_answer_path

    try:  # "kick" wrote a file named kick, which the Open dialog then refused as neither sound nor codes
        path = codes_answer_path(text, f"{s.ws.a}.codes.json")
    except ValueError as exc:
        s.notify(str(exc), severity="error")
        return
    if path is None:
        s.notify("give a file name (or a folder) to save the codes to", severity="error")
        return
    s.save_to(s.ws.a, path)



def open_sound(s: EditorScreen) -> None:
    if not s.require("model"):
        return
    from .screens.file_picker import SOUND, FilePickerScreen

    start = s.ws.sound(s.ws.a).audio_path if s.ws.a and s.ws.sound(s.ws.a).audio_path else None

    def chosen(path: Path | None) -> None:
        if path is None:
            return
        name = s.ws.opened_from(path)
        if name is None:
            s.loader.load_files(s.engine, [path], "A")
        else:  # open already: a second copy would look like a second sound (clap01-2), its edits apart
            s.put_in_slot("A", name)
            s.set_message(f"{name}: in A, as you left it")  # whole at 80 columns (the status line says where the cursor is first)

    s.app.push_screen(FilePickerScreen("Open a sound or a codes file into A", SOUND, start.parent if start else None),
                      chosen)


def offer_its_model(s: EditorScreen, path: Path) -> None:
    """A codes file another model made could not open: when that model is found (the file names it, or it is
    beside it; `persistence.model_of_codes`), ask whether to open it with the file. Before, the refusal only
    named the two fingerprints, and finding the model was the musician's business."""
    from ..persistence.model_of_codes import model_of_codes
    from .screens.confirm import ConfirmScreen

    if not path.name.endswith(".json") or s.engine is None or isinstance(s.app.screen, ConfirmScreen):
        return  # one question at a time: a folder of another model's codes asks once
    found = model_of_codes(path)
    if found.model is None or found.fingerprint == s.engine.fingerprint:
        return
    model = found.model
    s.app.push_screen(ConfirmScreen(f"{path.name} was made by {model.name} ({model.parent}). Open that model with "
                                    "it? The sounds now open will close (unsaved edits: asked first).", yes="Open",
                                    no="Stay"),
                      lambda go: s.open_model(model, [path]) if go else None)


def open_model(s: EditorScreen) -> None:
    from .screens.file_picker import MODEL, FilePickerScreen

    start = s.model_path.parent if s.model_path and s.model_path.parent.is_dir() else None
    s.app.push_screen(FilePickerScreen("Open a model (.distill)", MODEL, start),
                      lambda path: s.open_model(path) if path else None)


COMMANDS: tuple[Command | Question, ...] = (
    # between A and B
    Question("Blend toward B…", "morph the selection toward B's sound, each code toward the code B has there (0 keeps A, 1 takes B)",
             "Blend the selection toward B by (0..1)", "0.5", blend,
             needs=("sound", "B", "model", "selection")),
    Command("Take levels from B",
            lambda s: f"replace {numbered('level', [q + 1 for q in _levels(s)])} of A with B's (DNA mix)",
            take_levels),
    Command("Swap selection with B", "exchange the selection with the same cells of B (x)",
            lambda s: s.action_swap_ab()),
    Command("Edit B (exchange A and B)", "B becomes the sound on the grid (o)", lambda s: s.action_other_slot()),
    # time
    Command("Reverse selection", "play the selected cells backwards",
            lambda s: s.edit_selection(lambda sel: E.Reverse(selection=sel), "reversed", needs=("sound", "selection"))),
    Question("Repeat selection…", "loop the selected columns N times in a row (the sound gets longer)",
             "Play the selected columns this many times", "2", repeat, needs=("sound", "selection")),
    Command("Duplicate selection", "insert a copy of the selected columns after them",
            lambda s: s.edit_selection(lambda sel: E.DuplicateColumns(sel.pos_start, sel.pos_stop or 0), "duplicated",
                                       needs=("sound", "selection"))),
    Question("Insert columns…", "insert copies of the column before the cursor",
             "Insert this many columns at the cursor", "4", insert),
    Command("Delete selected columns", "remove the selected columns (the sound gets shorter)",
            lambda s: s.edit_selection(lambda sel: E.DeleteColumns(start=sel.pos_start, stop=sel.pos_stop or 0),
                                       "deleted columns", needs=("sound", "selection"))),
    # fills and patterns
    Question("Fill selection with code…", "write one code (hex) into every selected cell",
             "Fill the selection with the code (hex)", "00", fill, needs=("sound", "selection")),
    Question("Fill alternating codes…", "a, b, a, b… across the selection",
             "Alternate two codes (hex) with a period", "00 01 1", alternate, needs=("sound", "selection")),
    Question("Fill Euclidean rhythm…", "a code on E(hits, steps) onsets, the other cells left alone",
             "Code (hex), hits, steps", "00 3 8", euclid, needs=("sound", "selection")),
    Question("Ramp between codes…", "walk the level's perceptual order from one code to another across the selection",
             "Ramp from code to code (hex)", "00 3f", ramp, needs=("sound", "model", "selection")),
    # random and the prior
    Command("Randomize (uniform)", "any code of the level", lambda s: s.action_randomize("uniform")),
    Command("Randomize (usage)", "codes drawn by how often training used them", lambda s: s.action_randomize("usage")),
    Command("Randomize (nearest)", "one of the 4 codes closest to it in what the model learned: a gentle variation",
            lambda s: s.action_randomize("nearest")),
    Command("Regenerate selection with the prior", "resample the selected cells given what comes before (R)",
            lambda s: s.action_regenerate()),
    Question("Regenerate every N-th column…", "redraw every N-th column of the selection with the prior; the "
             "columns between are kept and hold the rhythm", "Redraw every N-th column, N =", "2", regenerate_every,
             needs=("sound", "model", "selection")),
    Command("Regenerate every other beat", lambda s: f"redraw the selection's off-beats at {s.bpm:g} BPM (Set tempo) "
            "with the prior; the beats between are kept", regenerate_off_beats),
    Question("Continue with the prior…", "grow the sound past its end with new codes",
             "Continue the sound by (seconds)", "1.0", continue_),
    Question("Variations…", "new versions of the sound: its loudness and shape kept (level 1), the detail redrawn; "
             "1–9 hear one, Enter keeps it", "How many variations (1–9)", "4", lambda s, text: variations(s, text),
             needs=("sound", "model")),
    Command("Generate a new sound", "sample a new grid with the generate panel's settings (ctrl+g)",
            lambda s: s.action_generate()),
    Command("Generate a seamless loop", "a new sound whose end flows into its start, with the generate panel's "
            "length and settings", lambda s: s.action_generate("loop")),
    Command("Generate a one-shot", "a new sound that starts and ends in silence (a hit, a note, a swell), with the "
            "generate panel's length and settings", lambda s: s.action_generate("one-shot")),
    Command("Train the prior…", "learn how this model's sounds move, so Generate, Variations and Regenerate can draw "
            "new codes; a few minutes, on its own", lambda s: train_prior(s)),
    Question("Generate in the style of…", "a new sound that takes after the sound in A (name more open sounds to "
             "take after them all), with the generate panel's length, loop and settings",
             "In the style of (open sounds, separated by commas)", lambda s: s.ws.a or "",
             lambda s, text: style(s, text), needs=("sound", "model")),
    # templates
    Question("Save selection as template…", "keep the selected codes under a name, for any sound of this model",
             "Template name", "motif", save_template),
    Question("Paste template…", paste_template_help, "Template to paste", first_template, paste_template),
    # levels, listening, files
    Command("Mute level", "toggle the cursor's level in what you hear (m)", lambda s: s.action_mute()),
    Command("Solo level", "hear only the cursor's level, or everything again (M)", lambda s: s.action_solo()),
    Command("Play / stop", "hear the current sound (space)", lambda s: s.action_play()),
    Command("Loop playback on/off", "play the sound round and round, decoded as a loop, until stopped (L)",
            lambda s: s.action_loop_play()),
    Command("A/B: the original", "hear the original recording (or the sound as opened), or back to your edit, "
            "and how close they are (a)", lambda s: s.action_ab()),
    Command("Follow the playhead", "scroll with the playhead while playing (f)", lambda s: s.action_follow()),
    Command("Undo", "u", lambda s: s.action_undo()),
    Command("Redo", "ctrl+r", lambda s: s.action_redo()),
    Command("Save codes", "write A's codes file (ctrl+s)", lambda s: s.action_save()),
    Question("Save codes as…", "write A's codes to a new file", "Save the codes to",
             lambda s: str(s.ws.default_codes_path(s.ws.a)), lambda s, text: save_as(s, text),
             needs=("sound",)),
    Command("Export WAV…", "write the decoded sound (and its codes beside it) (e)", lambda s: s.action_export()),
    Command("Open sound or codes file…", "encode an audio file (or open a codes file) of this model into A",
            lambda s: open_sound(s)),
    Command("Open model…", "switch to another model file (the open sounds close)", lambda s: open_model(s)),
    Question("Set tempo (BPM)…", "beats per minute: w and b jump by one beat", "Tempo (beats per minute)",
             lambda s: f"{s.bpm:g}", lambda s, text: s.set_tempo(text)),
    Question("Set edit step…", "how far the cursor advances after typing a code (0 stays)", "Edit step (positions)",
             lambda s: str(s.grid.edit_step), lambda s, text: s.set_edit_step(text)),
    Question("Set seed…", "the seed Generate draws with: a generated sound's seed and settings draw that sound again "
             "(0: a new one each time)", "Seed (0: a new one each time)", lambda s: s.seed_offered(), lambda s, text: s.set_seed(text)),
)


def editor_commands(s: EditorScreen) -> Iterator[SystemCommand]:
    """The palette's entries for the editor screen: the table, then one pair per open sound (put it in A or B)."""
    for command in COMMANDS:
        yield command.entry(s)
    for name in s.ws.names():
        yield SystemCommand(f"Put {name} in A", "edit this sound", lambda name=name: s.put_in_slot("A", name))
        yield SystemCommand(f"Put {name} in B", "use this sound as the other one",
                            lambda name=name: s.put_in_slot("B", name))
