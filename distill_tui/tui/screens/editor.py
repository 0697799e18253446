"""The editor screen: the code grid, the spectrogram strip, the side panels, and what ties them together.

The edits themselves are `EditingActions` (tui/editing.py), mixed in so that their keys find them here.
Work that blocks runs in thread workers, each kept by a helper: `Loader` (the model and files),
`DecodeQueue` (decoding for listening), `Player` (the router and the playhead), `SoundFiles` (saving and
exporting); generating a new sound is this screen's own worker. A worker that fails posts a failure
message (`report_failures`) and the editor carries on. What the panels say is worked out in
`editor_panels`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from ...errors import BadInputError, DistillError
from ..ab_listen import ABListening
from ..commands import offer_its_model
from ..decode_queue import DecodeQueue
from ..editing import EditingActions
from ..editor_panels import cell_info, slot_rows, status_text, title_text
from ..keymap import EDITOR_BINDINGS
from ..loading import Loader, LookCached, OpenProgress
from ..loop_play import LoopPlaying
from ..messages import (
    AuditionReady,
    CursorMoved,
    LoadFailed,
    ModeChanged,
    ModelFailed,
    ModelLoaded,
    PlayDone,
    SoundLoaded,
    WorkFailed,
)
from ..palette import GridColours
from ..player import Player
from ..sound_files import SoundFiles
from ..widgets.code_grid import EDIT, CodeGridView, GridLook
from ..widgets.generate_panel import GeneratePanel
from ..widgets.health_bars import HealthBars, level_health
from ..widgets.inspector import Inspector
from ..widgets.side_panels import SidePanels
from ..widgets.slots import SlotRow, SlotsPanel, SoundList
from ..widgets.spectrogram import SpectrogramStrip
from ..workspace import Workspace
from .confirm import ConfirmScreen
from .confirm_unsaved import resolve_unsaved
from .prompt import PromptScreen

MIN_WIDTH, MIN_HEIGHT = 60, 16
EDIT_MODE_ACTIONS = {"play", "undo", "redo", "save"}  # what normal-mode keys still do while typing codes
DEFAULT_BPM = 120.0
PANELS_EVERY_S = 0.25  # while a folder opens, the sound list and the panels are redrawn this often
IDLE_FULL_DECODE_S = 2.0  # after this long without edits, a sound built from partial re-decodes is decoded afresh


class EditorScreen(EditingActions, ABListening, LoopPlaying, Screen):
    """One model, its open sounds (A is edited, B is the other), and the panels around them."""

    BINDINGS = [*EDITOR_BINDINGS, Binding("tab", "tab_focus", show=False)]  # type: ignore[assignment]

    def __init__(self, model: Path | None, audio: list[Path], *, router: Any = None) -> None:
        super().__init__(id="editor")
        self.model_path = model
        self.audio_paths = list(audio)
        self.opening = OpenProgress.of(self.audio_paths)  # counted on the status line as they arrive
        self.ws = Workspace()
        self.engine: Any = None  # the `InferenceSession` once the model is loaded
        self.bpm = DEFAULT_BPM
        self.message = ""
        self.show_timings = True  # the decode time in the status line (snapshot tests turn it off)
        self.decoder = DecodeQueue(self, self.ws, idle_full_decode_s=IDLE_FULL_DECODE_S, busy=lambda: self.playing)
        self.loader = Loader(self, decoder=self.decoder)
        self.player = Player(self, router, on_position=self._show_playhead, on_end=self.stop_playing)
        self.files = SoundFiles(self)
        self._play_when_ready = False
        self._slot_rows: list[SlotRow] | None = None
        self._panels_timer: Timer | None = None  # a redraw of the panels while a folder opens

    @property
    def router(self) -> Any:
        """The audio router (None until it is made)."""
        return self.player.router

    @property
    def playing(self) -> bool:
        return self.player.playing

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("Distill", id="title", markup=False)
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield CodeGridView(id="grid")
                yield SpectrogramStrip(id="spectrogram")
            yield SidePanels(id="side")  # Cell, Sounds, Codebook health, Generate; tabs below 100 columns
        yield Static("", id="status", markup=False)
        yield Static("Terminal too small: Distill needs at least 60 × 16 characters.", id="too-small")
        yield Footer(show_command_palette=False)  # ":" is in the footer already

    @property
    def grid(self) -> CodeGridView:
        return self.query_one("#grid", CodeGridView)

    @property
    def spectrogram(self) -> SpectrogramStrip:
        return self.query_one("#spectrogram", SpectrogramStrip)

    def on_mount(self) -> None:
        self.grid.focus()
        what = self.model_path.name if self.model_path else "no model"
        self.grid.placeholder = f"loading {what}…"
        self.spectrogram.placeholder = ""
        self.apply_colours(getattr(self.app, "grid_colours", GridColours()))
        self.refresh_panels()
        self._check_size(self.app.size.width, self.app.size.height)
        self.call_after_refresh(self.start_loading)

    def on_resize(self, event: Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        too_small = width < MIN_WIDTH or height < MIN_HEIGHT
        was = self.has_class("-too-small")
        self.set_class(too_small, "-too-small")
        self.query_one(SidePanels).fit(width)
        if was and not too_small:  # the grid was hidden and lost focus: give it back, or every key goes dead
            self.call_after_refresh(self.grid.focus)

    def on_screen_resume(self) -> None:
        """Back from a dialog or another screen: the grid takes the keys again if nothing else has them."""
        if self.focused is None:
            self.grid.focus()

    def apply_colours(self, colours: GridColours) -> None:
        """Paint the grid and the spectrogram with a theme's colours."""
        self.grid.set_colours(colours)
        self.spectrogram.set_colours(colours)

    # ------------------------------------------------------------------ loading
    def start_loading(self) -> None:
        """After the first frame: load the model (torch is imported then), then the sounds."""
        if self.model_path is None:
            self.grid.placeholder = "no model yet — ':' then 'Open model…', or 'Train a model…' on your sounds"
            self.grid.refresh()
            return
        self.player.ensure_router()  # ready for a sound the decoded-audio cache can play before the model loads
        self.loader.load_model(self.model_path, self.audio_paths)

    def open_model(self, path: Path, audio: list[Path] | None = None) -> None:
        """Switch models and open `audio` (none given and no model loaded: the sounds asked for with the one that
        failed); the open sounds close (unsaved edits: ask first)."""
        if audio is None and self.engine is None:
            audio = self.audio_paths
        resolve_unsaved(self, f"opening {path.name}", lambda: self.switch_model(path, list(audio or [])))

    def switch_model(self, path: Path, audio: list[Path]) -> None:
        """Load another model and open `audio` into it; the open sounds close, unsaved edits or not."""
        self.stop_playing()
        self.ws.close_all()
        self.show_a()
        self.show_spectrogram()
        self.model_path, self.audio_paths = path, audio
        self.opening = OpenProgress.of(audio)
        self.grid.placeholder = f"loading {path.name}…"
        self.refresh_panels()
        self.loader.load_model(path, audio)

    def on_look_cached(self, message: LookCached) -> None:
        """Before the model loads: its level labels and code colours as the codes cache kept them."""
        if self.engine is None:  # a model once loaded brings its own
            self.grid.set_document(self.grid.doc, GridLook(message.look.labels, message.look.ranks), self.grid.muted)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        engine = self.engine = self.decoder.engine = message.engine
        self.ws.model_file = engine.path
        self.grid.placeholder = "loading sounds…" if self.audio_paths else "no sound yet: ':' to open one, ctrl+g to generate one"
        self.grid.look = GridLook(labels=engine.labels, ranks=engine.ranks)
        self.grid.invalidate()  # a grid shown from the codes cache before the model is repainted in its colours
        if self.ws.a is not None:
            self.show_a()  # decode what the codes cache showed before there was a model
        self.grid.beat = self.beat_positions()
        panel = self.query_one(GeneratePanel)
        panel.set_codebook_max(max(engine.codec.codebook_sizes))
        panel.set_note("" if engine.prior is not None else str(engine.prior_error))
        self.query_one(HealthBars).show(level_health(engine.doc.health if engine.doc else None, engine.codec.codebook_sizes,
                                                     engine.labels))
        if engine.perceptual.note:
            self.notify(engine.perceptual.note, severity="warning", timeout=6)
        opened = self.opening.total > 1 and len(self.opening.pending) < self.opening.total  # from the codes cache
        self.set_message(f"model {engine.path.name} loaded" + (f"; {self.opening.words()}" if opened else ""))
        self.grid.refresh()
        self.player.ensure_router()

    def on_model_failed(self, message: ModelFailed) -> None:
        self.grid.placeholder = "no model loaded (see the message) — ':' then 'Open model…'"
        self.grid.refresh()
        self.notify(message.reason, title="Cannot open the model", severity="error", timeout=10)

    def on_sound_loaded(self, message: SoundLoaded) -> None:
        try:
            sound = self.ws.add(message.grid, message.audio_path, message.codes_path, unsaved=message.unsaved,
                                stamp=message.stamp)
        except DistillError as exc:
            self.notify(str(exc), severity="error")
            self.set_message(self.opening.arrived(message.audio_path or message.codes_path, ok=False) or self.message)
            return
        self.ab_remember(sound.name, message.grid, message.audio_path)
        if message.slot:
            self.ws.set_slot(message.slot, sound.name)
        if self.ws.a == sound.name:
            self.show_a()
        said = self.opening.arrived(message.audio_path or message.codes_path)
        if said is None and not self.opening.pending and not message.note:  # one sound opened on its own (Open…)
            said = f"{sound.name} opened" + (f" in {message.slot}" if message.slot else "")
        self.set_message(said or self.message)  # it kept saying "13 sounds open" when the 14th arrived
        if message.note:
            self.set_message(message.note)  # replaces "generating …"
        if self.opening.pending and sound.name not in (self.ws.a, self.ws.b):
            self._refresh_panels_soon()
        else:
            self.refresh_panels()

    def _refresh_panels_soon(self) -> None:
        """While a folder opens, redraw the panels a few times a second, not once per sound: for 200 sounds,
        once per sound held the interface for about a third of the time they took to open."""
        if self._panels_timer is None:
            self._panels_timer = self.set_timer(PANELS_EVERY_S, self._refresh_panels_now)

    def _refresh_panels_now(self) -> None:
        self._panels_timer = None
        self.refresh_panels()

    def on_load_failed(self, message: LoadFailed) -> None:
        self.notify(message.reason, title="Cannot open", severity="error", timeout=8)
        self.set_message(self.opening.arrived(message.what, ok=False) or self.message)
        offer_its_model(self, Path(message.what))  # another model's codes: offer that model

    def on_work_failed(self, message: WorkFailed) -> None:
        self.notify(message.reason, title=f"{message.what} failed", severity="error", timeout=8)
        if self.message == f"{message.what}…":  # the status line announced it: it did not happen
            self.set_message(f"not done: {message.what}")

    # ------------------------------------------------------------------ showing A, decoding
    def show_a(self) -> None:
        """Put the sound in slot A on the grid and the spectrogram; decode it if it is stale."""
        name = self.ws.a
        if name is None:
            self.grid.set_document(None)
            return
        sound = self.ws.sound(name)
        self.grid.beat = self.beat_positions()  # from the sound's own rate: no model needed
        self.grid.set_document(self.ws.grid(name), muted=sound.muted)
        self.show_spectrogram()
        if not self.decoder.is_current(name):
            self.decoder.request(name)
        if self.engine is not None:
            grid = self.ws.grid(name)
            self.query_one(HealthBars).measure(self.engine.codec.decode_db, name, grid.codes.copy(), grid.codebook_sizes,
                                               sorted(sound.muted))
        self.refresh_panels()

    def show_spectrogram(self) -> None:
        """Show A's latest decode under the grid (or "decoding…"), scrolled with the grid."""
        name = self.ws.a
        sound = self.ws.sounds.get(name) if name else None
        grid = self.grid
        aud = sound.audition if sound else None
        if aud is None or aud.db is None:  # a decode from the cache plays at once; its picture comes with the model
            self.spectrogram.placeholder = "decoding…" if sound else ""
        doc = self.ws.grid(name) if name else None
        self.spectrogram.show(None if aud is None else aud.db, sample_rate=doc.sample_rate if doc else 22050,
                              stride=doc.stride if doc else 4, cell_width=grid.cell_width, label_width=grid.LABEL_WIDTH)
        self.spectrogram.set_scroll(int(grid.scroll_offset.x))

    def on_audition_ready(self, message: AuditionReady) -> None:
        """A decode finished: export or play what was waiting for it, and show it if it is A's."""
        self.files.decoded(message.name)
        if message.name != self.ws.a:
            return
        self.show_spectrogram()
        if self._play_when_ready and self.decoder.is_current(message.name):
            self._play_when_ready = False
            self._start_play()
        self.refresh_status()

    # ------------------------------------------------------------------ modes, sounds and levels
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.is_mounted and self.grid.mode == EDIT and action not in EDIT_MODE_ACTIONS:
            return None
        return True

    def action_other_slot(self) -> None:
        try:
            self.ws.exchange()
        except DistillError as exc:
            self.notify(exc.reason, severity="warning")
            return
        self.stop_playing()
        self.show_a()
        self.set_message(f"editing {self.ws.a}")

    def action_next_sound(self, step: int) -> None:
        names = self.ws.names()
        if names:
            i = names.index(self.ws.a) if self.ws.a in names else -1
            self.put_in_slot("A", names[(i + step) % len(names)])

    def put_in_slot(self, slot: str, name: str) -> None:
        """Put an open sound in slot "A" (the grid shows it) or "B"."""
        try:
            self.ws.set_slot(slot, name)
        except DistillError as exc:
            self.notify(exc.reason, severity="warning")
            return
        if slot == "A":
            self.stop_playing()
            self.show_a()
        self.refresh_panels()
        self.set_message(f"{name} in {slot}")

    def on_sound_list_chosen(self, message: SoundList.Chosen) -> None:
        self.put_in_slot(message.slot, message.name)
        if message.slot == "A":
            self.grid.focus()

    def action_next_panel(self) -> None:
        self.query_one(SidePanels).next_panel()

    def action_tab_focus(self) -> None:
        """Tab: the next control of the side panels, and back to the grid. Where the panel shown has none (Cell,
        Health as tabs), nothing moved and nothing said why: the status line now says so (in 80 columns)."""
        before = self.focused
        self.focus_next()
        side = self.query_one(SidePanels)
        if self.focused is before and side.compact:
            self.set_message(f"{side.title(side.chosen)} has nothing to Tab into; t: next panel")

    def action_focus_grid(self) -> None:
        """Esc in a side panel: the keys go back to the grid (on the grid itself Esc is normal mode)."""
        self.grid.focus()

    # ---- generate
    def action_generate(self, shape: str | None = None) -> None:
        """ctrl+g: a new sound as the generate panel says; `shape` "loop" or "one-shot" asks for one whatever its boxes say."""
        self.post_message(self.query_one(GeneratePanel).request(shape))

    # ------------------------------------------------------------------ playing
    def action_play(self) -> None:
        if self.playing or self._play_when_ready or self._loop_waiting:
            self.stop_playing()
            return
        name = self.ws.a
        if name is None:
            self.notify("no sound to play", severity="warning")
            return
        if self.decoder.is_current(name):
            self._start_play()
        else:
            self._play_when_ready = True
            self.decoder.request(name)
            self.set_message("decoding, then playing…")

    def _start_play(self) -> None:
        name = self.ws.a
        if name is None:
            self.notify("audio output is not ready yet", severity="warning")
            return
        if self.loop_wanted(name):  # round and round, decoded as a loop (tui/loop_play.py)
            return self.play_loop(name)
        self.player.play(self.ws.sound(name).audition.audio, self.ws.grid(name).sample_rate, name)

    def _show_playhead(self, seconds: float) -> bool:
        if self.ws.a is None:
            return True
        self.loop_follow_edits()
        grid = self.ws.grid(self.ws.a)
        pos = int(seconds / grid.seconds_per_position)
        if pos >= grid.positions:
            return False
        self.grid.set_playhead(pos)
        if self.player.follow:
            self.grid.scroll_to_position(pos)
        return True

    def on_play_done(self, message: PlayDone) -> None:
        self.set_message(message.message)
        if message.route == "file":
            self.notify(message.message, title="Sound written", timeout=8)

    def stop_playing(self) -> None:
        """Stop the sound and the playhead (and forget a play that waited for a decode)."""
        self._play_when_ready = False
        self.loop_stop()
        self.player.stop()
        self.grid.set_playhead(None)
        self.refresh_status()

    def action_follow(self) -> None:
        self.player.follow = not self.player.follow
        self.set_message(f"follow the playhead: {'on' if self.player.follow else 'off'}")

    # ------------------------------------------------------------------ files
    def action_save(self) -> None:
        self.files.save(self.ws.a)

    def save_to(self, name: str, path: Path) -> None:
        """Save a sound's codes to `path`, asking first if another program changed that file."""
        self.files.save_to(name, path)

    def action_export(self) -> None:
        self.files.export(self.ws.a)

    # ------------------------------------------------------------------ panels
    def on_cursor_moved(self, message: CursorMoved) -> None:
        self.refresh_inspector()
        self.refresh_status()
        self.spectrogram.set_scroll(int(self.grid.scroll_offset.x))

    def on_mode_changed(self, message: ModeChanged) -> None:
        self.refresh_bindings()
        self.refresh_status()

    def set_message(self, text: str) -> None:
        """The last thing that happened, at the end of the status line."""
        self.message = text
        self.refresh_status()

    def refresh_panels(self) -> None:
        """Redraw the title, the sound list, the inspector and the status line."""
        self.refresh_title()
        self.refresh_slots()
        self.refresh_inspector()
        self.refresh_status()

    def refresh_title(self) -> None:
        # layout=False: the title and the status line are one line high whatever they say, and a layout pass
        # of the whole screen on every cursor move (which redraws the status line) is what they would cost
        self.query_one("#title", Static).update(title_text(self.model_path, self.ws), layout=False)

    def refresh_slots(self) -> None:
        rows = slot_rows(self.ws)
        if rows != self._slot_rows:  # rebuilding the list on every keystroke would cost more than the edit
            self._slot_rows = rows
            self.query_one(SlotsPanel).show(rows)

    def refresh_inspector(self) -> None:
        self.query_one(Inspector).show(cell_info(self.ws, self.grid, self.engine))

    def refresh_status(self) -> None:
        if not self.is_mounted:
            return
        decode_ms = self.decoder.last_decode_ms if self.show_timings else None
        self.query_one("#status", Static).update(status_text(self.grid, self.ws, playing=self.playing,
                                                             follow=self.player.follow, decode_ms=decode_ms,
                                                             message=self.message), layout=False)

    # ------------------------------------------------------------------ dialogs (tempo and edit step: editing.py)
    def ask(self, title: str, default: str, then: Callable[[str], object], help: str = "") -> None:
        """Prompt for one value, then call `then(text)` unless cancelled."""
        self.app.push_screen(PromptScreen(title, default, help), lambda text: then(text) if text is not None else None)

    def confirm(self, question: str, then: Callable[[], object]) -> None:
        """Ask a yes/no question; call `then()` on yes."""
        self.app.push_screen(ConfirmScreen(question), lambda ok: then() if ok else None)

    def require(self, what: str) -> bool:
        """Refuse an operation that needs a "sound" in A, one in "B", a "model", or a "selection", with a message.

        Region operations refuse to run on the lone cell under the cursor: a blend or a rhythm on one cell
        changed (almost) nothing and said it had worked."""
        if what == "B" and self.ws.b is None:
            self.notify("there is no sound in B: load a second sound, or generate one", severity="warning")
            return False
        if what == "model" and self.engine is None:
            self.notify("no model loaded", severity="warning")
            return False
        if what == "sound" and self.ws.a is None:
            self.notify("no sound is open", severity="warning")
            return False
        if what == "selection" and not self.grid.has_selection:
            self.notify("select first: v marks cells, V whole levels", severity="warning")
            return False
        return True

    def bad(self, exc: BadInputError | ValueError) -> None:
        """Notify a bad value (a `DistillError`'s reason, or the `ValueError`'s text)."""
        self.notify(getattr(exc, "reason", str(exc)), severity="error")
