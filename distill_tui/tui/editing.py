"""`EditingActions`: the editor's edits of the codes (keys, palette commands, model-driven edits), as a mixin.

Mixed into `EditorScreen`, so that the key bindings (`nudge`, `yank`, `undo`…) find their actions on the
screen; everything here reaches the rest of the editor through the attributes declared on the class.
Every edit goes through the workspace (one shared undo history), then the grid redraws the cells it
changed and the decode queue re-decodes the sound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from textual import work
from textual.worker import get_current_worker

from ..codes import edits as E
from ..codes.clipboard import Clipboard
from ..codes.grid import CodeGrid
from ..codes.selection import Selection
from ..errors import BadInputError, DistillError
from ..inference.sampling import SamplingSettings
from ..words import counted
from .messages import CodeTyped, EditReady, GenerateRequested, SoundLoaded
from .widgets.generate_panel import GeneratePanel
from .workers import report_failures
from .workspace import Touched, Workspace

if TYPE_CHECKING:
    from .decode_queue import DecodeQueue
    from .widgets.code_grid import CodeGridView

MakeEdit = Callable[[Selection], E.Edit]  # builds an edit for the selection (or the cursor's cell)


class EditingActions:
    """Edits of sound A: applied at once, or computed by the model in a worker and applied when done."""

    ws: Workspace
    engine: Any  # the `InferenceSession`, or None before the model is loaded
    decoder: DecodeQueue
    grid: CodeGridView
    notify: Callable[..., None]
    query_one: Callable[..., Any]
    post_message: Callable[..., bool]
    require: Callable[[str], bool]
    bad: Callable[[Exception], None]
    set_message: Callable[[str], None]
    refresh_panels: Callable[[], None]
    bpm: float

    def apply_edit(self, edit: E.Edit, label: str, name: str | None = None) -> bool:
        """Apply an edit to `name` (A by default) and redraw; a refused edit is notified and returns False."""
        try:
            touched = self.ws.apply(edit, name, label)
        except DistillError as exc:
            self.notify(exc.reason, severity="error")
            return False
        self._after_change(touched)
        self.set_message(label)
        return True

    def edit_selection(self, make: MakeEdit, label: str, needs: tuple[str, ...] = ("sound",)) -> None:
        """Build an edit for the selection and apply it at once; a bad value is notified. Ends the selection."""
        if not all(self.require(n) for n in needs):
            return
        try:
            self.apply_edit(make(self.grid.selection), label)
        except (DistillError, ValueError) as exc:
            self.bad(exc)
        self.grid.end_selection()

    def edit_selection_with_model(self, make: MakeEdit, label: str, needs: tuple[str, ...] = ("sound", "model")) -> None:
        """Build an edit for the selection that the model computes (blend…): computed in a worker, then applied."""
        if not all(self.require(n) for n in needs):
            return
        try:
            edit = make(self.grid.selection)
        except (DistillError, ValueError) as exc:
            self.bad(exc)
            return
        self.grid.end_selection()
        self.compute_edit(edit, label)

    def _edit_here(self, edit: E.Edit, label: str) -> None:
        """A key's edit: applied, and the selection ends if it took."""
        if self.apply_edit(edit, label):
            self.grid.end_selection()

    def _after_change(self, touched: list[Touched]) -> None:
        for t in touched:
            if t.name == self.ws.a:
                self.grid.cells_changed(t.result.changed, t.result.resized)
                self.decoder.request(t.name)
        self.refresh_panels()

    def _need_sound(self) -> CodeGrid | None:
        return self.ws.grid(self.ws.a) if self.require("sound") else None

    def on_code_typed(self, message: CodeTyped) -> None:
        """Write a typed code; one that does not exist at its level is refused, in hex as it was typed."""
        message.stop()
        grid = self._need_sound()
        if grid is None:
            return
        if 0 <= message.level < grid.levels:
            try:
                grid.check_code(message.level, message.code)
            except BadInputError as exc:
                self.notify(exc.reason, severity="error")
                return
        self.apply_edit(E.SetCell(level=message.level, position=message.position, code=message.code),
                        f"L{message.level + 1}:{message.position} = {message.code:02x}")

    def action_nudge(self, step: int) -> None:
        if self._need_sound() is None:
            return
        n = self.grid.take_count()
        order = self.engine.order if self.engine else [np.arange(k) for k in self.ws.grid(self.ws.a).codebook_sizes]
        self.apply_edit(E.Nudge(selection=self.grid.selection, step=step * n, order=order),
                        f"nudged {'up' if step > 0 else 'down'} {n}")

    def action_yank(self) -> None:
        grid = self._need_sound()
        if grid is None:
            return
        self.grid.take_count()
        sel = self.grid.selection
        try:
            self.ws.clipboard = Clipboard.copy_from(grid, sel, name=grid.name)
        except DistillError as exc:
            self.notify(exc.reason, severity="error")
            return
        self.grid.end_selection()
        self.set_message(f"yanked {counted(sel.shape[0], 'level')} × {counted(sel.shape[1], 'position')}")

    def action_paste(self, mode: str) -> None:
        if self._need_sound() is None:
            return
        self.grid.take_count()
        clip = self.ws.clipboard
        if clip is None:
            self.notify("nothing yanked yet: select with v, then y", severity="warning")
            return
        background = self.engine.perceptual.typical if self.engine else None
        self._edit_here(E.Paste(clip=clip, position=self.grid.pos, mode=mode, background=background),  # type: ignore[arg-type]
                        f"{'mix-' if mode == 'mix' else ''}pasted {clip.levels}×{clip.positions}")

    def action_clear(self) -> None:
        grid = self._need_sound()
        if grid is None:
            return
        self.grid.take_count()
        sel = self.grid.selection
        rows = range(sel.level_start, sel.level_stop or 0)
        common = [[int(np.bincount(grid.codes[q]).argmax())] for q in rows]  # each level's most common code
        self._edit_here(E.FillPattern(selection=sel, pattern=np.asarray(common, dtype=np.int64)), "cleared")

    def action_randomize(self, mode: str | None = None) -> None:
        if self._need_sound() is None:
            return
        self.grid.take_count()
        usage = self.engine.usage if self.engine else None
        mode = mode or ("usage" if usage is not None else "uniform")
        neighbours = self.engine.neighbours() if (mode == "nearest" and self.engine) else None
        self._edit_here(E.Randomize(selection=self.grid.selection, mode=mode, usage=usage,  # type: ignore[arg-type]
                                    neighbours=neighbours), f"randomized ({mode})")

    def action_swap_ab(self) -> None:
        if self._need_sound() is None:
            return
        self.grid.take_count()
        if self.ws.b is None:
            self.notify("there is no sound in B to swap with", severity="warning")
            return
        self._edit_here(E.SwapRegion(selection=self.grid.selection, other=self.ws.grid(self.ws.b)), "swapped with B")

    def action_undo(self) -> None:
        self._history("undo")

    def action_redo(self) -> None:
        self._history("redo")

    def _history(self, which: str) -> None:
        self.grid.take_count()
        touched = self.ws.undo() if which == "undo" else self.ws.redo()
        if touched is None:
            self.set_message(f"nothing to {which}")
            return
        self._after_change(touched)
        here = next((t for t in touched if t.name == self.ws.a), None)
        if here is not None:  # go to what changed, as vim does: the view follows, so it can be seen
            sel = here.result.changed
            self.grid.move_to(sel.level_start, sel.pos_start)
        first = touched[0]
        what = first.label or "a change"
        self.set_message(f"{which}: {what}" + ("" if first.name == self.ws.a else f" (in {first.name})"))

    def action_mute(self) -> None:
        if self._need_sound() is not None:
            self._set_muted(self.ws.sound(self.ws.a).muted ^ {self.grid.level})

    def action_solo(self) -> None:
        grid = self._need_sound()
        if grid is None:
            return
        others = set(range(grid.levels)) - {self.grid.level}
        self._set_muted(set() if self.ws.sound(self.ws.a).muted == others else others)

    def _set_muted(self, muted: set[int]) -> None:
        name = self.ws.a
        assert name is not None
        if len(muted) >= self.ws.grid(name).levels:
            self.notify("at least one level must sound", severity="warning")
            return
        self.ws.set_muted(name, muted)
        self.grid.set_muted(muted)
        self.decoder.request(name)
        self.set_message("muted: " + (", ".join(str(q + 1) for q in sorted(muted)) or "none"))

    # ---- model-driven edits (computed in a worker, applied here)
    def sampling_settings(self) -> SamplingSettings:
        """The sampling settings the generate panel shows (not validated)."""
        return self.query_one(GeneratePanel).request().settings

    def action_regenerate(self) -> None:
        if self._need_sound() is None or self.engine is None:
            return
        self.grid.take_count()
        try:
            prior = self.engine.require_prior()
            settings = self.sampling_settings()
            settings.validate()
        except DistillError as exc:
            self.notify(exc.reason, severity="warning")
            return
        sel = self.grid.selection
        self.grid.end_selection()
        self.compute_edit(E.Regenerate(selection=sel, prior=prior, settings=settings), "regenerated with the prior")

    def compute_edit(self, edit: E.Edit, label: str) -> None:
        """Compute a model-driven edit of A in a worker; it is applied when done, if A did not change meanwhile."""
        name = self.ws.a
        assert name is not None
        self.set_message(f"{label}…")
        self._compute_edit(name, self.ws.grid(name).copy(), edit, label)

    @work(thread=True, exclusive=True, group="model")
    @report_failures("{label}", known="{reason}")
    def _compute_edit(self, name: str, snapshot: CodeGrid, edit: E.Edit, label: str) -> None:
        self.engine.precompute(edit, snapshot)
        if not get_current_worker().is_cancelled:  # a newer request replaced this one
            self.post_message(EditReady(name, edit, label, expect=snapshot.codes.copy()))

    def on_edit_ready(self, message: EditReady) -> None:
        if message.name not in self.ws.sounds:
            return
        current = self.ws.grid(message.name).codes
        # the edit was computed from the grid as it was; after changes meanwhile it may not fit any more
        if message.expect is not None and not (current.shape == message.expect.shape and (current == message.expect).all()):
            self.notify(f"{message.label}: the sound changed meanwhile; try again", severity="warning")
            return
        self.apply_edit(message.edit, message.label, message.name)

    def reload_prior(self) -> None:
        """Take up the prior just trained into the open model's file; the open sounds stay as they are."""
        engine = self.engine

        def load() -> None:
            engine.reload_prior()
            self.app.call_from_thread(self._prior_reloaded)

        self.run_worker(load, thread=True, group="prior", exclusive=True)

    def _prior_reloaded(self) -> None:
        engine = self.engine
        from .widgets.generate_panel import GeneratePanel

        self.query_one(GeneratePanel).set_note("" if engine.prior is not None else str(engine.prior_error))
        if engine.prior is not None:
            self.notify("the new prior is in use: Generate, Variations and Regenerate draw from it", timeout=6)
        else:
            self.notify(str(engine.prior_error), title="Prior", severity="warning", timeout=10)

    def on_generate_requested(self, message: GenerateRequested) -> None:
        if not self.require("model"):
            return
        if self.engine.prior is None:
            self.notify(f"cannot generate: {self.engine.prior_error}", severity="warning")
            return
        self.set_message(f"generating {message.shape}{message.seconds:.1f} s…")
        self.generate(message)

    @work(thread=True, exclusive=True, group="generate")
    @report_failures("generating", known="{reason}")
    def generate(self, message: GenerateRequested) -> None:
        """In a worker: a new sound (a loop, a one-shot) from the prior, opened in A (unsaved)."""
        grid, seed = self.engine.generate(message.seconds, message.settings, loop=message.loop,
                                          one_shot=message.one_shot)
        if not get_current_worker().is_cancelled:
            self.post_message(SoundLoaded(grid, slot="A", unsaved=True,
                                          note=f"generated {message.shape}{message.seconds:.1f} s (seed {seed})"))

    # ---- the grid's tempo and edit step
    def beat_positions(self) -> int:
        name = self.ws.a
        if name is not None:
            spp = self.ws.grid(name).seconds_per_position
        elif self.engine is not None:
            spec, cfg = self.engine.codec.spec, self.engine.codec.cfg
            spp = cfg.stride * spec.hop_length / spec.sample_rate
        else:
            return 4
        return max(1, round(60.0 / self.bpm / spp))

    def set_tempo(self, text: str | None) -> None:
        """Set the beats per minute (20..400) that w and b jump by."""
        bpm = self._number_in(text, float, 20, 400, "tempo must be a number of beats per minute between 20 and 400")
        if bpm is None:
            return
        self.bpm = bpm
        self.grid.beat = self.beat_positions()
        self.grid.invalidate()
        self.grid.refresh()
        self.set_message(f"tempo {bpm:g} bpm: a beat is {self.grid.beat} positions")

    def set_edit_step(self, text: str | None) -> None:
        """Set how far the cursor moves after a typed code (0..64)."""
        step = self._number_in(text, int, 0, 64, "the edit step is a whole number from 0 to 64")
        if step is None:
            return
        self.grid.edit_step = step
        self.set_message(f"edit step {step}")

    def seed_offered(self) -> str:
        """What Set seed… offers: the seed the sound in A was generated with, else the panel's (0: a new one each time)."""
        from .widgets.generate_panel import GeneratePanel

        seed = self.ws.grid(self.ws.a).source.get("seed") if self.ws.a else None
        return str(seed if isinstance(seed, int) else self.query_one(GeneratePanel).request().settings.seed or 0)

    def set_seed(self, text: str | None) -> None:
        """Set the generate panel's seed (0: a new one each time; a generated sound's seed draws it again)."""
        from .widgets.generate_panel import MAX_SEED, GeneratePanel

        seed = self._number_in(text, int, 0, MAX_SEED, f"the seed is a whole number from 0 to {MAX_SEED}")
        if seed is None:
            return
        self.query_one(GeneratePanel).set_seed(seed)
        self.set_message(f"Generate draws with seed {seed}" if seed else "Generate draws a new seed each time")

    def _number_in(self, text: str | None, kind: Callable[[str], Any], low: float, high: float,
                   refusal: str) -> Any:
        """`text` read as `kind` if it lies in [low, high]; else None, and `refusal` is shown."""
        try:
            value = kind(text or "")
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            self.notify(refusal, severity="error")
            return None
        return value
