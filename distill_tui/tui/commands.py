"""Command-palette entries: every operation of the editing engine by name, acting on the selection or the cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from ..codes import edits as E
from ..codes import patterns
from ..codes.clipboard import Clipboard
from ..errors import DistillError

if TYPE_CHECKING:
    from .screens.editor import EditorScreen


def _cmd(title: str, help: str, callback: Callable[[], object]) -> SystemCommand:
    return SystemCommand(title, help, callback)


def editor_commands(s: EditorScreen) -> Iterator[SystemCommand]:
    """The palette's entries for the editor screen (the app adds Theme, Keys, Quit, Screenshot)."""
    sel = s.grid.selection

    def edit(make: Callable[[], E.Edit], label: str, needs: tuple[str, ...] = ("sound",)) -> Callable[[], None]:
        def run() -> None:
            if not all(s.require(n) for n in needs):
                return
            try:
                s._edit(make(), label)  # noqa: SLF001 - the screen's one way to apply an edit
            except (DistillError, ValueError) as exc:
                s.bad(exc)  # type: ignore[arg-type]
            s.grid.end_selection()
        return run

    def model_edit(make: Callable[[], E.Edit], label: str, needs: tuple[str, ...] = ("sound", "model")) -> Callable[[], None]:
        def run() -> None:
            if not all(s.require(n) for n in needs):
                return
            try:
                built = make()
            except (DistillError, ValueError) as exc:
                s.bad(exc)  # type: ignore[arg-type]
                return
            s.grid.end_selection()
            s.compute_edit(built, label)
        return run

    def ask(title: str, default: str, then: Callable[[str], None], help: str = "") -> Callable[[], None]:
        return lambda: s.ask(title, default, then, help)

    def b_grid():  # noqa: ANN202
        return s.ws.grid(s.ws.b)

    # ---- between A and B
    def blend(text: str) -> None:
        try:
            amount = float(text)
        except ValueError:
            s.notify("the amount is a number from 0 (keep A) to 1 (take B)", severity="error")
            return
        model_edit(lambda: E.Blend(selection=sel, other=b_grid(), amount=amount, quantizer=s.engine.codec.model.quantizer),
                   f"blended {amount:g} toward B", ("sound", "model", "B"))()

    yield _cmd("Blend toward B…", "move the selection toward B in latent space (0 keeps A, 1 takes B)",
               ask("Blend the selection toward B by (0..1)", "0.5", blend))
    levels = list(range(sel.level_start, sel.level_stop or 0))
    yield _cmd("Take levels from B", f"replace level(s) {', '.join(str(q + 1) for q in levels)} of A with B's (DNA mix)",
               edit(lambda: E.TakeLevels(source=b_grid(), levels=levels, align="stretch"), "took levels from B",
                    ("sound", "B")))
    yield _cmd("Swap selection with B", "exchange the selection with the same cells of B (x)", s.action_swap_ab)
    yield _cmd("Edit B (exchange A and B)", "B becomes the sound on the grid (o)", s.action_other_slot)

    # ---- time
    yield _cmd("Reverse selection", "play the selected cells backwards",
               edit(lambda: E.Reverse(selection=sel), "reversed"))

    def repeat(text: str) -> None:
        try:
            times = int(text)
        except ValueError:
            s.notify("repeat count must be a whole number", severity="error")
            return
        edit(lambda: E.RepeatColumns(start=sel.pos_start, stop=sel.pos_stop or 0, times=times), f"repeated ×{times}")()

    yield _cmd("Repeat selection…", "loop the selected columns N times in a row (the sound gets longer)",
               ask("Play the selected columns this many times", "2", repeat))
    yield _cmd("Duplicate selection", "insert a copy of the selected columns after them",
               edit(lambda: E.DuplicateColumns(sel.pos_start, sel.pos_stop or 0), "duplicated"))

    def insert(text: str) -> None:
        try:
            count = int(text)
        except ValueError:
            s.notify("a whole number of columns", severity="error")
            return
        edit(lambda: E.InsertColumns(at=s.grid.pos, count=count), f"inserted {count} column(s)")()

    yield _cmd("Insert columns…", "insert copies of the column before the cursor",
               ask("Insert this many columns at the cursor", "4", insert))
    yield _cmd("Delete selected columns", "remove the selected columns (the sound gets shorter)",
               edit(lambda: E.DeleteColumns(start=sel.pos_start, stop=sel.pos_stop or 0), "deleted columns"))

    # ---- fills and patterns
    def fill(text: str) -> None:
        try:
            code = int(text, 16)
        except ValueError:
            s.notify("a code in hex, like 1f", severity="error")
            return
        edit(lambda: E.Fill(selection=sel, code=code), f"filled with {code:02x}")()

    yield _cmd("Fill selection with code…", "write one code (hex) into every selected cell",
               ask("Fill the selection with the code (hex)", "00", fill))

    def alternate(text: str) -> None:
        try:
            a, b, *rest = text.split()
            pat = patterns.alternate(int(a, 16), int(b, 16), int(rest[0]) if rest else 1)
        except (ValueError, DistillError) as exc:
            s.notify(f"give two hex codes and an optional period, like '1f 20 2' ({exc})", severity="error")
            return
        edit(lambda: E.FillPattern(selection=sel, pattern=pat), "alternating fill")()

    yield _cmd("Fill alternating codes…", "a, b, a, b… across the selection",
               ask("Alternate two codes (hex) with a period", "00 01 1", alternate))

    def euclid(text: str) -> None:
        try:
            code, hits, steps = text.split()
            pat = patterns.euclid(int(code, 16), int(hits), int(steps))
        except (ValueError, DistillError) as exc:
            s.notify(f"give a hex code, hits and steps, like '1f 3 8' ({exc})", severity="error")
            return
        edit(lambda: E.FillPattern(selection=sel, pattern=pat), "Euclidean rhythm")()

    yield _cmd("Fill Euclidean rhythm…", "a code on E(hits, steps) onsets, the other cells left alone",
               ask("Code (hex), hits, steps", "00 3 8", euclid))

    def ramp(text: str) -> None:
        if not s.require("model"):
            return
        try:
            a, b = (int(v, 16) for v in text.split())
            q = s.grid.level
            pat = patterns.ramp(s.engine.order[q], a, b, max(sel.shape[1], 1))
        except (ValueError, DistillError) as exc:
            s.notify(f"give two hex codes, like '00 3f' ({exc})", severity="error")
            return
        edit(lambda: E.FillPattern(selection=sel, pattern=pat), "ramp")()

    yield _cmd("Ramp between codes…", "walk the level's perceptual order from one code to another across the selection",
               ask("Ramp from code to code (hex)", "00 3f", ramp))

    # ---- random and the prior
    for mode, what in (("uniform", "any code of the level"), ("usage", "codes drawn by how often training used them"),
                       ("nearest", "one of the 4 nearest codes in embedding space: a gentle variation")):
        yield _cmd(f"Randomize ({mode})", what, lambda mode=mode: s.action_randomize(mode))
    yield _cmd("Regenerate selection with the prior", "resample the selected cells given what comes before (R)",
               s.action_regenerate)

    def continue_(text: str) -> None:
        if not (s.require("sound") and s.require("model")):
            return
        try:
            seconds = float(text)
            prior = s.engine.require_prior()
            settings = s.engine.sampling(s._settings())  # noqa: SLF001
        except (ValueError, DistillError) as exc:
            s.bad(exc)  # type: ignore[arg-type]
            return
        grid = s.ws.grid(s.ws.a)
        total = grid.positions + max(1, round(seconds / grid.seconds_per_position))
        s.compute_edit(E.Continue(total_positions=total, prior=prior, settings=settings), f"continued {seconds:g} s")

    yield _cmd("Continue with the prior…", "grow the sound past its end with new codes",
               ask("Continue the sound by (seconds)", "1.0", continue_))
    yield _cmd("Generate a new sound", "sample a new grid with the generate panel's settings (ctrl+g)", s.action_generate)

    # ---- templates
    def save_template(text: str) -> None:
        if not s.require("sound"):
            return
        try:
            clip = Clipboard.copy_from(s.ws.grid(s.ws.a), sel, name=text)
            path = patterns.TemplateStore().save(text, clip)
        except DistillError as exc:
            s.bad(exc)  # type: ignore[arg-type]
            return
        s.set_message(f"template {text!r} saved ({path})")

    yield _cmd("Save selection as template…", "keep the selected codes under a name, for any sound of this model",
               ask("Template name", "motif", save_template))

    def paste_template(text: str) -> None:
        if not s.require("sound"):
            return
        try:
            clip = patterns.TemplateStore().load(text, s.ws.grid(s.ws.a))
        except DistillError as exc:
            s.bad(exc)  # type: ignore[arg-type]
            return
        edit(lambda: E.Paste(clip=clip, position=s.grid.pos, mode="mix"), f"template {text!r}")()

    names = patterns.TemplateStore().names(s.ws.grid(s.ws.a).model_fingerprint) if s.ws.a else []
    yield _cmd("Paste template…", "mix-paste a saved template at the cursor" + (f" ({', '.join(names[:5])})" if names else ""),
               ask("Template to paste", names[0] if names else "", paste_template))

    # ---- levels, listening, files
    yield _cmd("Mute level", "toggle the cursor's level in what you hear (m)", s.action_mute)
    yield _cmd("Solo level", "hear only the cursor's level, or everything again (M)", s.action_solo)
    yield _cmd("Play / stop", "hear the current sound (space)", s.action_play)
    yield _cmd("Follow the playhead", "scroll with the playhead while playing (f)", s.action_follow)
    yield _cmd("Undo", "u", s.action_undo)
    yield _cmd("Redo", "ctrl+r", s.action_redo)
    yield _cmd("Save codes", "write A's codes file (ctrl+s)", s.action_save)
    yield _cmd("Save codes as…", "write A's codes to a new file",
               lambda: s.require("sound") and s.ask("Save the codes to", str(s.ws.default_codes_path(s.ws.a)),  # type: ignore[arg-type]
                                                    lambda t: s.save_to(s.ws.a, Path(t))))  # type: ignore[arg-type]
    yield _cmd("Export WAV…", "write the decoded sound (and its codes beside it) (e)", s.action_export)
    yield _cmd("Open sound or codes file…", "encode audio files (or open codes files) of this model into A",
               ask("Open (audio or .codes.json; several separated by spaces)", "", lambda t: s.open_paths(t, "A")))
    yield _cmd("Open model…", "switch to another model file",
               ask("Model file (.distill)", str(s.model_path or ""), lambda t: s.open_model(Path(t).expanduser())))
    yield _cmd("Set tempo…", "beats per minute: w and b jump by one beat",
               ask("Tempo (beats per minute)", f"{s.bpm:g}", s.set_tempo))
    yield _cmd("Set edit step…", "how far the cursor advances after typing a code (0 stays)",
               ask("Edit step (positions)", str(s.grid.edit_step), s.set_edit_step))
    for name in s.ws.names():
        yield _cmd(f"Put {name} in A", "edit this sound", lambda name=name: s.put_in_slot("A", name))
        yield _cmd(f"Put {name} in B", "use this sound as the other one", lambda name=name: s.put_in_slot("B", name))
