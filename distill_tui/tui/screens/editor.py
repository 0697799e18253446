"""The editor screen: the code grid, the spectrogram strip, the side panels, and every editing action.

Edits go through the engine's `Edit` objects and one shared `EditSession` (the workspace); this screen
only chooses what to edit (the cursor or the visual selection), tells the grid which cells changed,
and asks for a partial re-decode. Loading, decoding, sampling and playing run in thread workers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from ...codes import edits as E
from ...codes.clipboard import Clipboard
from ...codes.grid import CodeGrid
from ...codes.selection import Selection
from ...errors import BadInputError, DistillError
from ..engine import Engine, Settings
from ..keymap import EDITOR_BINDINGS
from ..messages import (
    AuditionReady,
    CodeTyped,
    CursorMoved,
    EditReady,
    GenerateRequested,
    LoadFailed,
    ModeChanged,
    ModelFailed,
    ModelLoaded,
    PlayDone,
    SoundLoaded,
    WorkFailed,
)
from ..palette import GridColours
from ..widgets.code_grid import EDIT, NORMAL, CodeGridView, GridLook
from ..widgets.generate_panel import GeneratePanel
from ..widgets.health_bars import HealthBars, level_health
from ..widgets.inspector import CellInfo, Inspector
from ..widgets.slots import SlotRow, SlotsPanel, SoundList
from ..widgets.spectrogram import SpectrogramStrip
from ..workspace import Touched, Workspace
from .confirm import ConfirmScreen
from .prompt import PromptScreen

MIN_WIDTH, MIN_HEIGHT = 60, 16
EDIT_MODE_ACTIONS = {"play", "undo", "redo", "save"}  # what normal-mode keys still do while typing codes
DEFAULT_BPM = 120.0
IDLE_FULL_DECODE_S = 2.0  # after this long without edits, a sound built from partial re-decodes is decoded afresh


class EditorScreen(Screen):
    """One model, its open sounds (A is edited, B is the other), and the panels around them."""

    BINDINGS = EDITOR_BINDINGS  # type: ignore[assignment]

    def __init__(self, model: Path | None, audio: list[Path], *, router: Any = None) -> None:
        super().__init__(id="editor")
        self.model_path = model
        self.audio_paths = list(audio)
        self.ws = Workspace()
        self.engine: Engine | None = None
        self.router = router
        self.follow = False
        self.playing = False
        self.play_started: float | None = None
        self.bpm = DEFAULT_BPM
        self.message = ""
        self.last_decode_ms: float | None = None
        self.show_timings = True  # the decode time in the status line (snapshot tests turn it off)
        self._play_when_ready = False
        self._export_when_ready: tuple[str, Path] | None = None
        self._decoding = False
        self._pending: list[str] = []
        self._full: set[str] = set()
        self._slot_rows: list[SlotRow] | None = None  # sounds to decode from scratch (not partially) on their next turn
        self._play_timer: Any = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("Distill", id="title", markup=False)
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield CodeGridView(id="grid")
                yield SpectrogramStrip(id="spectrogram")
            with VerticalScroll(id="side"):
                yield Static("Cell", classes="panel-title")
                yield Inspector(id="inspector")
                yield Static("Sounds", classes="panel-title")
                yield SlotsPanel(id="slots")
                yield Static("Codebook health", classes="panel-title")
                yield HealthBars(id="health")
                yield Static("Generate", classes="panel-title")
                yield GeneratePanel(id="generate")
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
        self.set_class(width < MIN_WIDTH or height < MIN_HEIGHT, "-too-small")

    def apply_colours(self, colours: GridColours) -> None:
        self.grid.set_colours(colours)
        self.spectrogram.set_colours(colours)

    # ------------------------------------------------------------------ loading (workers)
    def start_loading(self) -> None:
        """After the first frame: load the model (torch is imported here), then the sounds."""
        if self.model_path is None:
            self.grid.placeholder = "no model: distill-tui open MODEL [AUDIO ...]"
            self.grid.refresh()
            return
        self.load_model(self.model_path, list(self.audio_paths))

    @work(thread=True, exclusive=True, group="load")
    def load_model(self, path: Path, audio: list[Path]) -> None:
        try:
            engine = Engine.load(path)
        except DistillError as exc:
            self.post_message(ModelFailed(path, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a broken file must not stop the app
            self.post_message(ModelFailed(path, f"{path}: cannot load the model ({type(exc).__name__}: {exc})"))
            return
        self.post_message(ModelLoaded(engine))
        self._load_files(engine, audio, first_slot="A")

    def _load_files(self, engine: Engine, paths: list[Path], first_slot: str | None) -> None:
        worker = get_current_worker()
        for i, path in enumerate(paths):
            if worker.is_cancelled:
                return
            try:
                grid = engine.open_file(Path(path))
            except DistillError as exc:
                self.post_message(LoadFailed(Path(path), str(exc)))
                continue
            except Exception as exc:  # noqa: BLE001 - an unreadable file is reported, never fatal
                self.post_message(LoadFailed(Path(path), f"{path}: cannot read ({type(exc).__name__}: {exc})"))
                continue
            is_codes = Path(path).name.endswith(".json")
            self.post_message(SoundLoaded(grid, None if is_codes else Path(path), Path(path) if is_codes else None,
                                          slot=first_slot if i == 0 else None))

    @work(thread=True, group="files")
    def load_files(self, paths: list[Path], slot: str | None) -> None:
        if self.engine is not None:
            self._load_files(self.engine, paths, slot)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        engine = self.engine = message.engine
        self.grid.placeholder = "loading sounds…" if self.audio_paths else "no sound: : then 'Open' or generate one"
        self.grid.look = GridLook(labels=engine.labels, ranks=engine.ranks)
        self.grid.beat = self._beat_positions()
        panel = self.query_one(GeneratePanel)
        panel.set_codebook_max(max(engine.codec.codebook_sizes))
        panel.set_note("" if engine.prior is not None else f"no prior: {engine.prior_error}")
        self.query_one(HealthBars).show(level_health(engine.doc.get("health") or {}, engine.codec.codebook_sizes,
                                                     engine.labels))
        if engine.perceptual.note:
            self.notify(engine.perceptual.note, severity="warning", timeout=6)
        self.set_message(f"model {engine.path.name} loaded")
        self.grid.refresh()
        self.start_router()

    def on_model_failed(self, message: ModelFailed) -> None:
        self.grid.placeholder = "no model loaded (see the message) — : then 'Open model…'"
        self.grid.refresh()
        self.notify(message.reason, title="Cannot open the model", severity="error", timeout=10)

    def on_sound_loaded(self, message: SoundLoaded) -> None:
        try:
            sound = self.ws.add(message.grid, message.audio_path, message.codes_path, unsaved=message.unsaved)
        except DistillError as exc:
            self.notify(str(exc), severity="error")
            return
        if message.slot:
            self.ws.set_slot(message.slot, sound.name)
        if self.ws.a == sound.name:
            self.show_a()
        self.refresh_panels()

    def on_load_failed(self, message: LoadFailed) -> None:
        self.notify(message.reason, title="Cannot open", severity="error", timeout=8)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.notify(message.reason, title=f"{message.what} failed", severity="error", timeout=8)

    # ------------------------------------------------------------------ showing A
    def show_a(self) -> None:
        """Put the sound in slot A on the grid and the spectrogram; decode it if it is stale."""
        name = self.ws.a
        if name is None:
            self.grid.set_document(None)
            return
        sound = self.ws.sound(name)
        self.grid.set_document(self.ws.grid(name), muted=sound.muted)
        self.show_spectrogram()
        if sound.audition is None or sound.decoded_version != sound.version:
            self.request_decode(name)
        self.refresh_panels()

    def show_spectrogram(self) -> None:
        name = self.ws.a
        sound = self.ws.sounds.get(name) if name else None
        grid = self.grid
        aud = sound.audition if sound else None
        if aud is None:
            self.spectrogram.placeholder = "decoding…" if sound else ""
        doc = self.ws.grid(name) if name else None
        self.spectrogram.show(None if aud is None else aud.db, sample_rate=doc.sample_rate if doc else 22050,
                              stride=doc.stride if doc else 4, cell_width=grid.cell_width, label_width=grid.LABEL_WIDTH)
        self.spectrogram.set_scroll(int(grid.scroll_offset.x))

    # ------------------------------------------------------------------ decoding (one worker, coalescing)
    def request_decode(self, name: str) -> None:
        if self.engine is None:
            return
        if name not in self._pending:
            self._pending.append(name)
        if not self._decoding:
            self._decoding = True
            self.decode_loop()

    def _next_decode_job(self) -> tuple[str, CodeGrid, set[int], Any, int] | None:
        """On the UI thread: the next sound to decode, as a snapshot (A first); None ends the worker."""
        while self._pending:
            name = self.ws.a if self.ws.a in self._pending else self._pending[0]
            self._pending.remove(name)
            sound = self.ws.sounds.get(name)
            fresh = name in self._full
            self._full.discard(name)
            if sound is None or (sound.audition is not None and sound.decoded_version == sound.version and not fresh):
                continue
            previous = None if fresh else sound.audition
            return name, self.ws.grid(name).copy(), set(sound.muted), previous, sound.version
        self._decoding = False
        return None

    @work(thread=True, exclusive=True, group="decode")
    def decode_loop(self) -> None:
        """Decode what `request_decode` queued, newest state first, until nothing is stale (one at a time)."""
        engine = self.engine
        assert engine is not None
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                job = self.app.call_from_thread(self._next_decode_job)
            except RuntimeError:  # the app is closing
                return
            if job is None:
                return
            name, grid, muted, previous, version = job
            try:
                audition = engine.decode(grid, muted, previous)
            except DistillError as exc:
                self.post_message(WorkFailed("decoding", str(exc)))
                continue
            except Exception as exc:  # noqa: BLE001 - reported; the editor keeps the previous audio
                self.post_message(WorkFailed("decoding", f"{type(exc).__name__}: {exc}"))
                continue
            self.app.call_from_thread(self._store_audition, name, audition, version)

    def _store_audition(self, name: str, audition: Any, version: int) -> None:
        sound = self.ws.sounds.get(name)
        if sound is None:
            return
        sound.audition, sound.decoded_version = audition, version
        self.last_decode_ms = 1000 * float(getattr(audition, "seconds", 0.0))
        if sound.version != version and name not in self._pending:
            self._pending.append(name)  # edited meanwhile: the loop picks it up next
        elif getattr(audition, "partial", False):
            self.set_timer(IDLE_FULL_DECODE_S, lambda: self._idle_full_decode(name, version))
        self.post_message(AuditionReady(name, audition, version))

    def _idle_full_decode(self, name: str, version: int) -> None:
        """Partial re-decodes are exact for the spectrogram but chain Griffin-Lim phases; when the user pauses,
        decode the sound afresh (bench/RESULTS.md, editing engine)."""
        sound = self.ws.sounds.get(name)
        if sound is None or sound.version != version or self.playing or not getattr(sound.audition, "partial", False):
            return
        self._full.add(name)
        self.request_decode(name)

    def on_audition_ready(self, message: AuditionReady) -> None:
        pending = self._export_when_ready
        if pending is not None and pending[0] == message.name and self.ws.sounds[message.name].decoded_version == \
                self.ws.sounds[message.name].version:
            self._export_when_ready = None
            self.export_to(*pending)
        if message.name != self.ws.a:
            return
        self.show_spectrogram()
        sound = self.ws.sounds[message.name]
        if self._play_when_ready and sound.decoded_version == sound.version:
            self._play_when_ready = False
            self._start_play()
        self.refresh_status()

    # ------------------------------------------------------------------ editing
    def _edit(self, edit: E.Edit, label: str, name: str | None = None) -> bool:
        try:
            touched = self.ws.apply(edit, name)
        except DistillError as exc:
            self.notify(exc.reason, severity="error")
            return False
        self._after_change(touched)
        self.set_message(label)
        return True

    def _after_change(self, touched: list[Touched]) -> None:
        for t in touched:
            if t.name == self.ws.a:
                self.grid.cells_changed(t.result.changed, t.result.resized)
                self.request_decode(t.name)
        self.refresh_panels()

    def _need_sound(self) -> CodeGrid | None:
        if self.ws.a is None:
            self.notify("no sound is open", severity="warning")
            return None
        return self.ws.grid(self.ws.a)

    def _selection(self) -> Selection:
        return self.grid.selection

    def on_code_typed(self, message: CodeTyped) -> None:
        message.stop()
        if self._need_sound() is None:
            return
        self._edit(E.SetCell(level=message.level, position=message.position, code=message.code),
                   f"L{message.level + 1}:{message.position} = {message.code:02x}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.is_mounted and self.grid.mode == EDIT and action not in EDIT_MODE_ACTIONS:
            return None
        return True

    def action_nudge(self, step: int) -> None:
        if self._need_sound() is None:
            return
        n = self.grid.take_count()
        order = self.engine.order if self.engine else [np.arange(k) for k in self.ws.grid(self.ws.a).codebook_sizes]
        self._edit(E.Nudge(selection=self._selection(), step=step * n, order=order),
                   f"nudged {'up' if step > 0 else 'down'} {n}")

    def action_yank(self) -> None:
        grid = self._need_sound()
        if grid is None:
            return
        self.grid.take_count()
        sel = self._selection()
        try:
            self.ws.clipboard = Clipboard.copy_from(grid, sel, name=grid.name)
        except DistillError as exc:
            self.notify(exc.reason, severity="error")
            return
        self.grid.end_selection()
        self.set_message(f"yanked {sel.shape[0]} level(s) × {sel.shape[1]} position(s)")

    def action_paste(self, mode: str) -> None:
        if self._need_sound() is None:
            return
        self.grid.take_count()
        clip = self.ws.clipboard
        if clip is None:
            self.notify("nothing yanked yet: select with v, then y", severity="warning")
            return
        background = self.engine.perceptual.typical if self.engine else None
        if self._edit(E.Paste(clip=clip, position=self.grid.pos, mode=mode, background=background),  # type: ignore[arg-type]
                      f"{'mix-' if mode == 'mix' else ''}pasted {clip.levels}×{clip.positions}"):
            self.grid.end_selection()

    def action_clear(self) -> None:
        grid = self._need_sound()
        if grid is None:
            return
        self.grid.take_count()
        sel = self._selection()
        rows = range(sel.level_start, sel.level_stop or 0)
        common = [[int(np.bincount(grid.codes[q]).argmax())] for q in rows]  # each level's most common code
        if self._edit(E.FillPattern(selection=sel, pattern=np.asarray(common, dtype=np.int64)), "cleared"):
            self.grid.end_selection()

    def action_randomize(self, mode: str | None = None) -> None:
        if self._need_sound() is None:
            return
        self.grid.take_count()
        usage = self.engine.usage if self.engine else None
        mode = mode or ("usage" if usage is not None else "uniform")
        neighbours = self.engine.neighbours() if (mode == "nearest" and self.engine) else None
        if self._edit(E.Randomize(selection=self._selection(), mode=mode, usage=usage, neighbours=neighbours),  # type: ignore[arg-type]
                      f"randomized ({mode})"):
            self.grid.end_selection()

    def action_swap_ab(self) -> None:
        if self._need_sound() is None:
            return
        self.grid.take_count()
        if self.ws.b is None:
            self.notify("there is no sound in B to swap with", severity="warning")
            return
        if self._edit(E.SwapRegion(selection=self._selection(), other=self.ws.grid(self.ws.b)), "swapped with B"):
            self.grid.end_selection()

    def action_undo(self) -> None:
        self._history("undo")

    def action_redo(self) -> None:
        self._history("redo")

    def _history(self, which: str) -> None:
        self.grid.take_count()
        if self.grid.mode == EDIT:
            self.ws.checkpoint()
        touched = self.ws.undo() if which == "undo" else self.ws.redo()
        if touched is None:
            self.set_message(f"nothing to {which}")
            return
        names = sorted({t.name for t in touched})
        self._after_change(touched)
        self.set_message(f"{which}: {', '.join(names)}")

    # ---- sounds and levels
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
        if not names:
            return
        i = names.index(self.ws.a) if self.ws.a in names else -1
        self.put_in_slot("A", names[(i + step) % len(names)])

    def put_in_slot(self, slot: str, name: str) -> None:
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

    def action_mute(self) -> None:
        if self._need_sound() is None:
            return
        sound = self.ws.sound(self.ws.a)
        level = self.grid.level
        self._set_muted(sound.muted ^ {level})

    def action_solo(self) -> None:
        grid = self._need_sound()
        if grid is None:
            return
        sound = self.ws.sound(self.ws.a)
        others = set(range(grid.levels)) - {self.grid.level}
        self._set_muted(set() if sound.muted == others else others)

    def _set_muted(self, muted: set[int]) -> None:
        name = self.ws.a
        assert name is not None
        grid = self.ws.grid(name)
        if len(muted) >= grid.levels:
            self.notify("at least one level must sound", severity="warning")
            return
        self.ws.set_muted(name, muted)
        self.grid.set_muted(muted)
        self.request_decode(name)
        self.set_message("muted: " + (", ".join(str(q + 1) for q in sorted(muted)) or "none"))

    # ---- model-driven edits (computed in a worker, applied here)
    def _settings(self) -> Settings:
        req = self.query_one(GeneratePanel).request()
        return Settings(temperature=req.temperature, top_k=req.top_k, top_p=req.top_p, seed=req.seed)

    def action_regenerate(self) -> None:
        grid = self._need_sound()
        if grid is None or self.engine is None:
            return
        self.grid.take_count()
        try:
            prior = self.engine.require_prior()
            settings = self.engine.sampling(self._settings())
        except DistillError as exc:
            self.notify(exc.reason, severity="warning")
            return
        sel = self._selection()
        self.grid.end_selection()
        self.compute_edit(E.Regenerate(selection=sel, prior=prior, settings=settings), "regenerated with the prior")

    def compute_edit(self, edit: E.Edit, label: str) -> None:
        name = self.ws.a
        assert name is not None
        self.set_message(f"{label}…")
        self._compute_edit(name, self.ws.grid(name).copy(), edit, label)

    @work(thread=True, exclusive=True, group="model")
    def _compute_edit(self, name: str, snapshot: CodeGrid, edit: E.Edit, label: str) -> None:
        assert self.engine is not None
        try:
            self.engine.precompute(edit, snapshot)
        except DistillError as exc:
            self.post_message(WorkFailed(label, exc.reason))
            return
        except Exception as exc:  # noqa: BLE001 - reported; nothing changed
            self.post_message(WorkFailed(label, f"{type(exc).__name__}: {exc}"))
            return
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
        self._edit(message.edit, message.label, message.name)

    # ---- generate
    def action_generate(self) -> None:
        self.post_message(self.query_one(GeneratePanel).request())

    def on_generate_requested(self, message: GenerateRequested) -> None:
        if self.engine is None:
            self.notify("no model loaded", severity="warning")
            return
        if self.engine.prior is None:
            self.notify(f"cannot generate: this model has no prior ({self.engine.prior_error})", severity="warning")
            return
        settings = Settings(message.temperature, message.top_k, message.top_p, message.seed)
        self.set_message(f"generating {message.seconds:.1f} s…")
        self.generate(message.seconds, settings)

    @work(thread=True, exclusive=True, group="generate")
    def generate(self, seconds: float, settings: Settings) -> None:
        assert self.engine is not None
        try:
            grid, seed = self.engine.generate(seconds, settings)
        except DistillError as exc:
            self.post_message(WorkFailed("generating", exc.reason))
            return
        except Exception as exc:  # noqa: BLE001 - reported; nothing changed
            self.post_message(WorkFailed("generating", f"{type(exc).__name__}: {exc}"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(SoundLoaded(grid, slot="A", unsaved=True))

    # ------------------------------------------------------------------ playing
    def start_router(self) -> None:
        if self.router is None:
            self._make_router()

    @work(thread=True, exclusive=True, group="router")
    def _make_router(self) -> None:
        try:
            from ...playback.routing import Router

            router = Router()
            notice = router.notice()
        except DistillError as exc:
            self.post_message(WorkFailed("audio", str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - no audio is never fatal to the editor
            self.post_message(WorkFailed("audio", f"{type(exc).__name__}: {exc}"))
            return
        self.router = router
        if notice:
            self.app.call_from_thread(self.notify, notice, title="Listening", timeout=12)

    def action_play(self) -> None:
        if self.playing or self._play_when_ready:
            self.stop_playing()
            return
        name = self.ws.a
        if name is None:
            self.notify("no sound to play", severity="warning")
            return
        sound = self.ws.sound(name)
        if sound.audition is not None and sound.decoded_version == sound.version:
            self._start_play()
        else:
            self._play_when_ready = True
            self.request_decode(name)
            self.set_message("decoding, then playing…")

    def _start_play(self) -> None:
        name = self.ws.a
        if name is None or self.router is None:
            self.notify("audio output is not ready yet", severity="warning")
            return
        sound = self.ws.sound(name)
        audio = sound.audition.audio
        self.playing = True
        self.play_started = time.monotonic()
        self._play(audio, self.ws.grid(name).sample_rate, name)
        if self._play_timer is None:
            self._play_timer = self.set_interval(1 / 30, self._tick_playhead)
        else:
            self._play_timer.resume()

    @work(thread=True, exclusive=True, group="play")
    def _play(self, audio: np.ndarray, sample_rate: int, name: str) -> None:
        try:
            result = self.router.play(audio, sample_rate, name=name)
        except DistillError as exc:
            self.post_message(WorkFailed("playing", str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - playback trouble never stops the editor
            self.post_message(WorkFailed("playing", f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(PlayDone(result.message, result.route))

    def on_play_done(self, message: PlayDone) -> None:
        self.set_message(message.message)
        if message.route == "file":
            self.notify(message.message, title="Sound written", timeout=8)

    def stop_playing(self) -> None:
        self._play_when_ready = False
        if self.playing and self.router is not None:
            try:
                self.router.stop()
            except DistillError:
                pass
        self.playing = False
        self.grid.set_playhead(None)
        if self._play_timer is not None:
            self._play_timer.pause()
        self.refresh_status()

    def _tick_playhead(self) -> None:
        if not self.playing or self.router is None or self.ws.a is None:
            return
        seconds = self.router.position
        grace = self.play_started is not None and time.monotonic() - self.play_started < 0.5
        if seconds is None:
            if not grace:
                self.stop_playing()
            return
        grid = self.ws.grid(self.ws.a)
        pos = int(seconds / grid.seconds_per_position)
        if pos >= grid.positions:
            self.stop_playing()
            return
        self.grid.set_playhead(pos)
        if self.follow:
            self.grid.scroll_to_position(pos)

    def action_follow(self) -> None:
        self.follow = not self.follow
        self.set_message(f"follow the playhead: {'on' if self.follow else 'off'}")

    # ------------------------------------------------------------------ files
    def action_save(self) -> None:
        name = self.ws.a
        if name is None:
            self.notify("nothing to save", severity="warning")
            return
        if self.ws.codes_path(name) is not None:
            self.save_to(name, self.ws.codes_path(name))
        else:
            self.app.push_screen(PromptScreen(f"Save the codes of {name} to", str(self.ws.default_codes_path(name))),
                                 lambda path: self.save_to(name, Path(path)) if path else None)

    def save_to(self, name: str, path: Path | None) -> None:
        try:
            saved = self.ws.save(name, path)
        except DistillError as exc:
            self.notify(str(exc), title="Not saved", severity="error", timeout=8)
            return
        self.refresh_panels()
        self.set_message(f"saved {saved.name}")
        self.notify(f"saved {saved}", timeout=4)

    def action_export(self) -> None:
        name = self.ws.a
        if name is None:
            self.notify("nothing to export", severity="warning")
            return
        default = Path.cwd() / f"{name}.wav"
        self.app.push_screen(PromptScreen(f"Export {name} as WAV (FLAC by extension) to", str(default),
                                          help="The codes are saved beside it as NAME.codes.json. Esc: cancel"),
                             lambda path: self.export_to(name, Path(path)) if path else None)

    def export_to(self, name: str, path: Path) -> None:
        sound = self.ws.sound(name)
        if sound.audition is None or sound.decoded_version != sound.version:
            self._export_when_ready = (name, path)  # exported as soon as the current state is decoded
            self.set_message("decoding, then exporting…")
            self.request_decode(name)
            return
        self._export(path, sound.audition.audio, self.ws.grid(name).sample_rate, self.ws.grid(name).copy())

    @work(thread=True, group="export")
    def _export(self, path: Path, audio: np.ndarray, sample_rate: int, codes: CodeGrid) -> None:
        from ...audio.export import ExportOptions, export_audio

        try:
            result = export_audio(path, audio, sample_rate, ExportOptions(normalize_db=-1.0), codes=codes)
        except DistillError as exc:
            self.post_message(WorkFailed("export", str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - reported; nothing is lost
            self.post_message(WorkFailed("export", f"{path}: {type(exc).__name__}: {exc}"))
            return
        self.app.call_from_thread(self.notify, f"exported {result.path} ({result.seconds:.2f} s)", timeout=6)
        self.app.call_from_thread(self.set_message, f"exported {result.path.name}")

    def open_paths(self, text: str, slot: str | None = "A") -> None:
        paths = [Path(p).expanduser() for p in text.split()]
        if self.engine is None:
            self.notify("no model loaded", severity="warning")
            return
        self.load_files(paths, slot)

    def open_model(self, path: Path) -> None:
        dirty = self.ws.dirty_names()
        if dirty:
            self.notify(f"save or undo the edits in {', '.join(dirty)} before opening another model", severity="warning")
            return
        self.model_path = path
        self.load_model(path, [])

    # ------------------------------------------------------------------ panels
    def on_cursor_moved(self, message: CursorMoved) -> None:
        self.refresh_inspector()
        self.refresh_status()
        self.spectrogram.set_scroll(int(self.grid.scroll_offset.x))

    def on_mode_changed(self, message: ModeChanged) -> None:
        if message.mode == NORMAL:
            self.ws.checkpoint()  # a burst of typing ends here: one undo step
        self.refresh_bindings()
        self.refresh_title()
        self.refresh_status()

    def set_message(self, text: str) -> None:
        self.message = text
        self.refresh_status()

    def refresh_panels(self) -> None:
        self.refresh_title()
        self.refresh_slots()
        self.refresh_inspector()
        self.refresh_status()

    def refresh_title(self) -> None:
        parts = ["Distill", self.model_path.name if self.model_path else "no model"]
        for slot in ("A", "B"):
            name = self.ws.a if slot == "A" else self.ws.b
            if name:
                parts.append(f"{slot}: {name}{' ●' if self.ws.dirty(name) else ''}")
        self.query_one("#title", Static).update(" │ ".join(parts) + f"   [{self.grid.mode}]")

    def refresh_slots(self) -> None:
        rows = []
        for name in self.ws.names():
            slot = "A" if name == self.ws.a else "B" if name == self.ws.b else ""
            rows.append(SlotRow(name, self.ws.dirty(name), slot, self.ws.grid(name).seconds))
        if rows != self._slot_rows:  # rebuilding the list on every keystroke would cost more than the edit
            self._slot_rows = rows
            self.query_one(SlotsPanel).show(rows)

    def refresh_inspector(self) -> None:
        inspector = self.query_one(Inspector)
        name = self.ws.a
        if name is None:
            inspector.show(None)
            return
        grid = self.ws.grid(name)
        q, p = self.grid.level, self.grid.pos
        if not (0 <= q < grid.levels and 0 <= p < grid.positions):
            inspector.show(None)
            return
        code = int(grid.codes[q, p])
        info = CellInfo(level=q, label=self.grid.look.labels[q] if q < len(self.grid.look.labels) else "",
                        position=p, seconds=p * grid.seconds_per_position, code=code, size=grid.codebook_sizes[q])
        if self.engine is not None:
            lv = self.engine.perceptual.levels[q]
            info.description = lv.descriptions[code]
            info.rank = int(lv.rank[code])
            info.usage, info.usage_total = int(lv.usage[code]), int(lv.usage.sum())
        if self.grid.has_selection:
            sel = self.grid.selection
            info.selection = f"{sel.shape[0]} × {sel.shape[1]} ({sel.shape[1] * grid.seconds_per_position:.2f} s)"
        inspector.show(info)

    def refresh_status(self) -> None:
        if not self.is_mounted:
            return
        g = self.grid
        bits = [f" {g.mode} "]
        if g.count_pending:
            bits.append(f"count {g.count_pending}")
        if g.typed:
            bits.append(f"typing {g.typed}_")
        if self.ws.a is not None:
            doc = self.ws.grid(self.ws.a)
            bits.append(f"L{g.level + 1} pos {g.pos}/{doc.positions} ({g.pos * doc.seconds_per_position:.2f} s)")
        if self.playing:
            bits.append("▶ playing" + (" (follow)" if self.follow else ""))
        if self.last_decode_ms is not None and self.show_timings:
            bits.append(f"decode {self.last_decode_ms:.0f} ms")
        if self.message:
            bits.append(self.message)
        self.query_one("#status", Static).update(" · ".join(bits))

    # ------------------------------------------------------------------ small settings
    def _beat_positions(self) -> int:
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
        try:
            bpm = float(text or "")
            if not 20 <= bpm <= 400:
                raise ValueError
        except ValueError:
            self.notify("tempo must be a number of beats per minute between 20 and 400", severity="error")
            return
        self.bpm = bpm
        self.grid.beat = self._beat_positions()
        self.grid.invalidate()
        self.grid.refresh()
        self.set_message(f"tempo {bpm:g} bpm: a beat is {self.grid.beat} positions")

    def set_edit_step(self, text: str | None) -> None:
        try:
            step = int(text or "")
            if not 0 <= step <= 64:
                raise ValueError
        except ValueError:
            self.notify("the edit step is a whole number from 0 to 64", severity="error")
            return
        self.grid.edit_step = step
        self.set_message(f"edit step {step}")

    def ask(self, title: str, default: str, then: Any, help: str = "") -> None:
        """Prompt for one value, then call `then(text)` unless cancelled."""
        self.app.push_screen(PromptScreen(title, default, help), lambda text: then(text) if text is not None else None)

    def confirm(self, question: str, then: Any) -> None:
        self.app.push_screen(ConfirmScreen(question), lambda ok: then() if ok else None)

    def require(self, what: str) -> bool:
        """Refuse an operation that needs a sound in B or a model, with a message."""
        if what == "B" and self.ws.b is None:
            self.notify("there is no sound in B: load a second sound, or generate one", severity="warning")
            return False
        if what == "model" and self.engine is None:
            self.notify("no model loaded", severity="warning")
            return False
        if what == "sound" and self.ws.a is None:
            self.notify("no sound is open", severity="warning")
            return False
        return True

    def bad(self, exc: BadInputError | ValueError) -> None:
        self.notify(getattr(exc, "reason", str(exc)), severity="error")
