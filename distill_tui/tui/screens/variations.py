"""Variations of the sound in A, as numbered slots: hear each with its number, keep one as a new sound.

The prior redraws every level but the coarsest (`inference/variations.vary`), so each variation keeps
the sound's loudness and shape over time; `l` chooses which levels are kept (the first, the first moved a
little, none, or the first two), for a sound whose finer levels hold too little to vary it audibly. Drawing and decoding run in a
thread worker; playing goes through the editor's player, so the same output (speakers, a listener, a file)
is used as for A.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static
from textual.worker import get_current_worker

from ...errors import DistillError
from ...inference.sampling import SamplingSettings
from ..messages import SoundLoaded
from .dialog import Dialog

if TYPE_CHECKING:
    from ...codes.grid import CodeGrid
    from .editor import EditorScreen

MAX_SLOTS = 9  # one number key each
KEEP_LEVELS = [0]  # the coarsest level: the sound's loudness and shape over time


def keep_choices(levels: int) -> list[tuple[list[int], bool]]:
    """The (kept levels (0-based), moved a little) pairs `l` steps through: the first; the first moved a little
    (`vary(nudge=...)`, the middle ground between a subtle set and a new shape); none; then the first two when a
    third is left to redraw."""
    return [([0], False), ([0], True), ([], False)] + ([([0, 1], False)] if levels >= 3 else [])


def kept_words(keep: list[int], nudged: bool = False) -> str:
    """'level 1 kept, the rest redrawn', 'level 1 moved a little, the rest redrawn', 'every level redrawn',
    'levels 1-2 kept, the rest redrawn'."""
    if not keep:
        return "every level redrawn"
    how = "moved a little" if nudged else "kept"
    if len(keep) == 1:
        return f"level {keep[0] + 1} {how}, the rest redrawn"
    return f"levels {keep[0] + 1}-{keep[-1] + 1} {how}, the rest redrawn"


@dataclass
class Slot:
    """One variation, ready to hear."""

    grid: CodeGrid  # named <name>-var<k>
    audio: np.ndarray  # (N,) float32 at the model's rate
    changed: float  # share of the redrawn codes that differ from the sound's
    words: str = ""  # how far it is from the sound and whether it keeps its shape ("subtle (1.2 dB), same shape over time")
    audible: bool = True  # changes the sound by at least 2 dB (variations.MIN_CHANGE_DB)


class VariationsScreen(Dialog[None]):
    """1..n hear a variation (and choose it), Enter keeps the chosen one, r draws a new set, Esc closes."""

    BINDINGS = [
        *[Binding(str(k), f"audition({k})", f"hear {k}", show=k == 1, id=f"variations.hear{k}")
          for k in range(1, MAX_SLOTS + 1)],
        Binding("down,j", "move(1)", "next", show=False, id="variations.next"),
        Binding("up,k", "move(-1)", "previous", show=False, id="variations.previous"),
        Binding("space", "play_chosen", "play/stop", id="variations.play"),
        Binding("enter", "keep", "keep", id="variations.keep"),
        Binding("r", "redraw", "new set", id="variations.redraw"),
        Binding("l", "levels", "kept levels", id="variations.levels"),
        Binding("escape", "close", "close", id="variations.close"),
    ]
    DEFAULT_CSS = """
    VariationsScreen { align: center middle; }
    VariationsScreen > Vertical { width: 86; max-width: 95%; height: auto; border: thick $primary; background: $panel; padding: 0 1; }
    VariationsScreen #variations-title { height: auto; text-style: bold; }
    VariationsScreen #variations-slots { height: auto; margin: 1 0; }
    VariationsScreen #variations-help { height: auto; color: $text-muted; }
    """

    def __init__(self, editor: EditorScreen, name: str, count: int, settings: SamplingSettings) -> None:
        super().__init__(id="variations")
        self.editor, self.sound_name, self.count, self.settings = editor, name, count, settings
        self.slots: list[Slot] = []
        self.chosen: int | None = None  # 0-based
        self.status = ""
        self.kept: list[str] = []  # names of the variations kept as sounds
        self._round = 0  # each set drawn gets a number; what a cancelled older worker still sends is dropped
        self.keep: list[int] = list(KEEP_LEVELS)  # 0-based levels copied from the sound
        self.nudged = False  # the kept levels moved a little (to codes the model places beside theirs)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text(), id="variations-title", markup=False)
            yield Static("", id="variations-slots", markup=False)
            yield Static(help_text(self.count), id="variations-help", markup=False)

    def title_text(self) -> str:
        return f"Variations of {self.sound_name}: {kept_words(self.keep, self.nudged)}"

    def on_mount(self) -> None:
        self.draw()

    # ---- drawing and decoding, in a worker
    def draw(self) -> None:
        self.slots, self.chosen = [], None
        self._round += 1
        self.status = f"drawing {self.count} variations…"
        self.refresh_slots()
        for title in self.query("#variations-title").results(Static):  # composed (not yet mounted when it opens)
            title.update(self.title_text())
        self._draw(self.editor.ws.grid(self.sound_name).copy(), self.settings, list(self.keep), self.nudged, self._round)

    @work(thread=True, exclusive=True, group="variations")
    def _draw(self, source: CodeGrid, settings: SamplingSettings, keep: list[int], nudged: bool, round_: int) -> None:
        from ...inference.variations import Variation, near_codes, shape_judge, vary

        engine = self.editor.engine

        def ready(v: Variation) -> None:  # each one heard as soon as it is final, while the next is drawn
            if get_current_worker().is_cancelled:
                raise _Cancelled
            grid = source.copy()
            grid.codes, grid.name = v.codes, f"{self.sound_name}-var{v.index}"
            grid.source = {**{k: x for k, x in source.source.items() if k in {"ref_db", "gain_db", "samples"}},
                           "variation": {"of": self.sound_name, "k": v.index, "keep_levels": [lv + 1 for lv in keep],
                                         "seed": v.seed, "temperature": settings.temperature,
                                         "nudged": nudged}}
            audio = engine.decode(grid, set()).audio
            words = v.shape.words() if v.shape is not None else f"detail {v.changed:4.0%} new"
            audible = v.shape is None or v.shape.audible
            self.app.call_from_thread(self._add, Slot(grid, audio, v.changed, words, audible), round_)

        try:
            vary(engine.require_prior(), source.codes, self.count, settings, keep_levels=keep,
                 judge=shape_judge(engine.codec, source.codes, source.samples), on_ready=ready,
                 nudge=near_codes(engine.codec) if nudged else None)
        except _Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - a failure is shown in the dialog; the editor carries on
            reason = exc.reason if isinstance(exc, DistillError) else f"{type(exc).__name__}: {exc}"
            self.app.call_from_thread(self._failed, reason, round_)

    def _add(self, slot: Slot, round_: int) -> None:
        if round_ != self._round:
            return
        self.slots.append(slot)
        if self.chosen is None:
            self.chosen = 0
        done = len(self.slots) == self.count
        self.status = f"drawing {len(self.slots) + 1} of {self.count}…"
        if done:  # say it when no draw could change the sound much: r will not help either
            self.status = "" if any(slot.audible for slot in self.slots) else (
                f"all subtle: little of {self.sound_name} lives in the levels redrawn"
                + (("; l redraws level 1 too" if self.nudged else "; l moves level 1 a little too")
                   if self.keep == [0] else "; l redraws more of them" if self.keep else ""))
        self.refresh_slots()

    def _failed(self, reason: str, round_: int) -> None:
        if round_ != self._round:
            return
        self.status = f"cannot vary this sound: {reason}"
        self.refresh_slots()

    # ---- what the list says
    def slot_lines(self) -> list[str]:
        """One line per variation (the chosen one marked), then what is under way."""
        lines = []
        # The title names the sound, so a slot says var1, var2, …: "<a long name>-var1" wrapped every slot at 80 columns
        names = [slot.grid.name.removeprefix(f"{self.sound_name}-") for slot in self.slots]
        width = max(map(len, names), default=0)
        for i, (slot, name) in enumerate(zip(self.slots, names, strict=True)):
            mark = "▶" if i == self.chosen else " "
            lines.append(f"{mark} {i + 1}  {name:<{width}}  {slot.grid.seconds:5.2f} s  {slot.words}")
        if self.status:
            lines.append(self.status)
        return lines

    def refresh_slots(self) -> None:
        # once composed: `is_mounted` is still false in on_mount, where the first draw says what it does
        for slots in self.query("#variations-slots").results(Static):
            slots.update("\n".join(self.slot_lines()))

    # ---- keys
    def action_audition(self, k: int) -> None:
        if k > self.count:
            return
        if k > len(self.slots):
            self.notify(f"variation {k} is still being made", severity="warning")
            return
        self.chosen = k - 1
        self.refresh_slots()
        self.play(self.slots[k - 1])

    def play(self, slot: Slot) -> None:
        self.editor.stop_playing()
        self.editor.player.play(slot.audio, slot.grid.sample_rate, slot.grid.name)

    def action_move(self, step: int) -> None:
        if self.slots:
            self.chosen = ((self.chosen or 0) + step) % len(self.slots)
            self.refresh_slots()

    def action_play_chosen(self) -> None:
        if self.editor.playing:
            self.editor.stop_playing()
        elif self.chosen is not None:
            self.play(self.slots[self.chosen])

    def action_keep(self) -> None:
        """Open the chosen variation as a new sound in A (unsaved), and close."""
        if self.chosen is None:
            self.notify("no variation is ready yet", severity="warning")
            return
        grid = self.slots[self.chosen].grid.copy()
        self.kept.append(grid.name)
        self.editor.stop_playing()
        self.editor.post_message(SoundLoaded(grid, slot="A", unsaved=True, note=f"kept {grid.name}"))
        self.dismiss(None)

    def action_redraw(self) -> None:
        self.editor.stop_playing()
        self.settings = _next_seed(self.settings)
        self.draw()

    def action_levels(self) -> None:
        """Keep the next choice of levels (`keep_choices`) and draw a new set with the same settings (a fixed seed
        gives the same set for the same levels; no seed draws afresh)."""
        choices = keep_choices(self.editor.engine.codec.cfg.levels)
        now = (self.keep, self.nudged)
        self.keep, self.nudged = choices[(choices.index(now) + 1) % len(choices)] if now in choices else choices[0]
        self.keep = list(self.keep)
        self.editor.stop_playing()
        self.draw()

    def action_close(self) -> None:
        self.workers.cancel_group(self, "variations")
        self.editor.stop_playing()
        self.dismiss(None)


class _Cancelled(Exception):
    """The dialog closed or a new set began: the worker stops between two variations."""


def _next_seed(settings: SamplingSettings) -> SamplingSettings:
    """A fixed seed moves on by one, so `r` gives a new set that can still be replayed; no seed stays drawn."""
    return SamplingSettings(settings.temperature, settings.top_k, settings.top_p,
                            None if settings.seed is None else settings.seed + 1)


def help_text(count: int) -> str:
    """The keys of a set of `count` slots (one slot has nothing to choose between)."""
    choose = "1: hear" if count == 1 else f"1–{count}: hear · ↑↓: choose"
    return f"{choose} · space: play/stop · Enter: keep as a new sound · r: new set · l: kept levels · Esc: close"


def open_variations(editor: EditorScreen, text: str) -> Any:
    """The palette's "Variations…": check the count (1..9), the sound and the prior, then open the slots."""
    if not (editor.require("sound") and editor.require("model")):
        return None
    try:
        count = int(text)
        if not 1 <= count <= MAX_SLOTS:
            raise ValueError
    except ValueError:
        editor.notify(f"the number of variations is a whole number from 1 to {MAX_SLOTS}", severity="error")
        return None
    try:
        editor.engine.require_prior()
        settings = editor.sampling_settings()
        settings.validate()
    except DistillError as exc:
        editor.bad(exc)  # type: ignore[arg-type]
        return None
    editor.stop_playing()
    return editor.app.push_screen(VariationsScreen(editor, editor.ws.a, count, settings))
