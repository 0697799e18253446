"""A training run, live: loss curves, per-level health, warnings in words, speed and time left; stop, resume, next stage."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...data.audio_files import find_audio
from ...errors import DistillError
from ...train import launcher
from ...train.runs import (
    BEGIN,
    CRASHED,
    EMPTY,
    FINISHED,
    RUNNING,
    STARTING,
    STOPPED,
    TERMINAL,
    RunSummary,
    checkpoint_file,
    state_from_events,
    stopped_in_checks,
    summarize,
)
from ..event_feed import EventFeed, FeedUpdated
from ..prior_training import start_prior_training, unless_a_prior_is_kept
from ..run_text import form_words, progress_bar, render_batch_use, run_clock
from ..widgets.health_bars import HealthBars, level_health
from ..widgets.loss_chart import LossChart, Series

HANDOFF_SOUNDS = 12  # training sounds opened with a new model (each is encoded on opening)
MAX_POINTS = 1500  # per curve; older points are thinned (every other one dropped) beyond this
STATE_STYLE = {RUNNING: "bold green", STARTING: "bold cyan", FINISHED: "bold blue", STOPPED: "bold yellow",
               CRASHED: "bold red", EMPTY: "bold red"}


def training_sounds(data_dir: str | Path | None) -> list[Path]:
    """The audio files a run trained on (its folder, sorted), or none when the folder is gone."""
    if not data_dir:
        return []
    try:
        return find_audio(Path(data_dir))
    except DistillError:
        return []


def _thin(s: Series) -> None:
    if len(s.xs) > MAX_POINTS:
        s.xs[:] = s.xs[::2]
        s.ys[:] = s.ys[::2]


class RunViewScreen(Screen):
    """Attach to one run folder; the trainer is a separate process, so leaving this screen leaves it running."""

    BINDINGS = [
        Binding("s", "stop", "stop", id="run.stop", tooltip="the trainer saves a checkpoint and exits"),
        Binding("r", "resume", "resume", id="run.resume", tooltip="start the trainer again from its checkpoint"),
        Binding("t", "train_prior", "prior", id="run.train_prior",
                tooltip="train the prior (what Generate draws from) on this model's sounds"),
        Binding("o", "open_model", "open", id="run.open", tooltip="open the model and its sounds in the editor"),
        Binding("v", "zoom", "zoom", id="run.zoom", tooltip="curves: the last 200 steps, or the whole run"),
        Binding("escape", "back", "back", id="run.back"),
    ]
    DEFAULT_CSS = """
    RunViewScreen #run-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    RunViewScreen #run-status { height: 2; padding: 0 1; }
    RunViewScreen #run-body { height: 1fr; }
    RunViewScreen #run-charts { width: 1fr; }
    RunViewScreen #run-side { width: 36; border-left: vkey $panel; }
    RunViewScreen #loss-chart { height: 1fr; min-height: 6; }
    RunViewScreen #commit-chart { height: 7; }
    RunViewScreen #run-message { height: auto; padding: 0 1; }
    RunViewScreen #run-warnings { height: auto; padding: 0 1; }
    RunViewScreen .panel-title { background: $panel; color: $primary; text-style: bold; padding: 0 1; }
    """

    def __init__(self, run_dir: Path, *, tail_bytes: int | None = None, poll_interval: float = 0.1) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.feed: EventFeed | None = None
        self.tail_bytes = tail_bytes
        self.poll_interval = poll_interval
        self.process: Any = None  # the Popen when this TUI started the trainer (reaped here)
        self.summary: RunSummary = summarize(self.run_dir, 64 << 10)
        self.stage = self.summary.stage
        self.key_events: list[Mapping[str, Any]] = []  # start/resume/done/stopped/error, in order
        self.alive: bool | None = None
        self.events_seen = 0
        self._crash_reason: str | None = None
        self._shown: dict[str, str] = {}  # what each Static shows now
        self._bindings_state: tuple[str, bool | None] | None = None  # (state, alive) the footer was worked out for
        self.step = 0  # the highest step any event reported
        self.elapsed: float | None = None  # training seconds, from the latest event that says
        self.last: dict[str, Mapping[str, Any]] = {}  # the latest event of each kind
        self.warnings: list[str] = []
        self.sizes: list[int] = []
        self.health_event_time: float | None = None  # the latest health event's own time (for the lag benchmark)
        self.health_shown_at: float | None = None  # when the bars showed it
        self.batch_use_step: int | None = None  # the step whose batch code use the panel shows (before any health)
        self.recon = Series("training dB", "#ff7f50")
        self.val = Series("check dB", "#5fd7ff")
        self.commit = Series("code gap", "#d7af00")  # the commitment loss
        self.ppl_train = Series("training sounds", "#ff7f50")
        self.ppl_val = Series("new sounds", "#5fd7ff")
        self.prior_loss = Series("loss", "#d7af00")

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("", id="run-title")
        yield Static("", id="run-status")
        with Horizontal(id="run-body"):
            with Vertical(id="run-charts"):
                if self.stage == "prior":
                    yield LossChart([self.ppl_train, self.ppl_val], "likely next codes (perplexity) · lower is better", id="loss-chart")
                    yield LossChart([self.prior_loss], "training loss · lower is better", id="commit-chart")
                else:
                    yield LossChart([self.recon, self.val], "distance to the originals, dB · lower is better", id="loss-chart")
                    yield LossChart([self.commit], "gap to the nearest codes · lower is better", id="commit-chart")
            with VerticalScroll(id="run-side"):
                yield Static("Codebook health", classes="panel-title")
                yield HealthBars(id="run-health")
                yield Static("Messages", classes="panel-title")
                yield Static("", id="run-message")
                yield Static("", id="run-warnings")
        yield Footer(show_command_palette=False)  # ":" is in the footer already

    def on_mount(self) -> None:
        self.query_one("#run-health", HealthBars).update(Text("waiting for the first evaluation", style="dim")
                                                         if self.stage != "prior" else Text("the prior leaves the codebooks as they are", style="dim"))
        self.start_feed()
        self.refresh_view()
        self.set_interval(1.0, self._reap)

    def _reap(self) -> None:
        """Collect our own child's exit status, so it is not a zombie the feed would take for alive (no /proc)."""
        if self.process is not None and self.process.poll() is not None and self.feed is not None:
            self.process = None
            self.feed.wake()

    def start_feed(self) -> None:
        if self.feed is None:
            if self.events_seen:  # mounted again after a pop: the new feed reads the tail afresh
                self._forget()
                self.events_seen = 0
            kw = {"tail_bytes": self.tail_bytes} if self.tail_bytes else {}
            self.feed = EventFeed(self.run_dir, self, interval=self.poll_interval, **kw)
            self.feed.start()

    def on_unmount(self) -> None:
        if self.feed is not None:
            self.feed.stop()
            self.feed = None

    # ------------------------------------------------------------------ events
    def on_feed_updated(self, message: FeedUpdated) -> None:
        message.stop()
        if self.feed is None:
            return
        if self.process is not None:
            self.process.poll()  # reap our own child so it is not left a zombie
        batch = self.feed.drain()
        if batch.reset:
            self._forget()
        if batch.alive is not None:
            if batch.alive != self.alive:
                self._crash_reason = None
            self.alive = batch.alive
        health = None
        for ev in batch.events:
            health = self._take(ev) or health
        self.events_seen += len(batch.events)
        if health is not None:
            self._show_health(health)
        elif self.health_shown_at is None:
            self._show_batch_use()
        self.refresh_view()

    def _forget(self) -> None:
        for s in (self.recon, self.val, self.commit, self.ppl_train, self.ppl_val, self.prior_loss):
            s.xs.clear()
            s.ys.clear()
        self.key_events.clear()
        self.last.clear()
        self.step = 0
        self.warnings.clear()

    def _take(self, ev: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """Fold one event into the view's state; returns it when it is a health event."""
        kind = ev.get("event")
        self.last[kind] = ev
        step = ev.get("step") or 0
        if isinstance(step, int):
            self.step = max(self.step, step) if kind not in BEGIN else step
        if isinstance(ev.get("elapsed_s"), int | float):
            self.elapsed = float(ev["elapsed_s"])
        if kind in BEGIN or kind in TERMINAL:
            self.key_events.append(ev)
            if kind == "start" and isinstance(ev.get("model"), dict):
                self.sizes = list(ev["model"].get("codebook_sizes") or [])
            if kind == "start" and ev.get("prior"):
                self.stage = "prior"
        if kind == "step":
            if self.stage == "prior":
                self.prior_loss.add(step, ev.get("loss", float("nan")))
                _thin(self.prior_loss)
            else:
                self.recon.add(step, ev.get("recon_db", float("nan")))
                self.commit.add(step, ev.get("commit", float("nan")))
                _thin(self.recon)
                _thin(self.commit)
        elif kind == "eval":
            if "val_db" in ev:
                self.val.add(step, ev["val_db"])
            if "val_ppl" in ev:
                self.ppl_val.add(step, ev["val_ppl"])
                self.ppl_train.add(step, ev.get("train_ppl", float("nan")))
        elif kind in ("warning", "threads", "width"):
            msg = str(ev.get("message", ""))
            if msg and msg not in self.warnings[-20:]:
                self.warnings.append(msg)
        elif kind == "health":
            return ev
        elif kind == "done" and isinstance(ev.get("health"), dict):
            return ev["health"] | {"time": ev.get("time")}
        return None

    def _show_health(self, health: Mapping[str, Any]) -> None:
        sizes = self.sizes or [0] * len(health.get("utilization") or [])
        bars = self.query_one("#run-health", HealthBars)
        bars.show(level_health(health, sizes, [""] * len(sizes)))
        self.health_event_time = health.get("time")
        self.health_shown_at = time.time()

    def _show_batch_use(self) -> None:
        """Until the first health event: the latest step event's per-level batch utilization (stage 1 only)."""
        step = self.last.get("step") or {}
        util = step.get("batch_utilization")
        n = step.get("step")
        if self.stage == "prior" or not isinstance(util, list) or not util or n == self.batch_use_step:
            return
        self.batch_use_step = n if isinstance(n, int) else None
        bars = self.query_one("#run-health", HealthBars)
        bars.tooltip = ("the share of each level's codes the latest training batch used; the whole-dataset "
                        "health (every code, how many each level really uses, the idle ones) comes with the first evaluation")
        bars.update(render_batch_use(util, self.sizes, self.batch_use_step or 0, max(bars.size.width - 2, 20)))

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> str:
        alive = bool(self.alive) if self.alive is not None else self.summary.alive
        if not self.key_events and not self.last:
            return self.summary.state if self.alive is None else (STARTING if alive else self.summary.state)
        state, _ = state_from_events(self.key_events or [{"event": "step"}], alive)  # a tail without its start
        return state

    def state_message(self) -> str:
        state = self.state
        alive = bool(self.alive)
        if state == CRASHED or state == EMPTY:
            err = self.last.get("error")
            if err:
                what = str(err.get("message"))
            else:
                if self._crash_reason is None:  # read once: the trainer's stderr, when it left no error event
                    self._crash_reason = summarize(self.run_dir).message or "the trainer stopped"
                what = self._crash_reason
            ckpt = checkpoint_file(self.run_dir)
            todo = (f"The last checkpoint ({ckpt.name}) is kept: press r to resume from it."
                    if ckpt is not None else "No checkpoint was written: fix the cause and start again (escape, then n).")
            return f"[b red]Training failed:[/] {what}\n{todo}  Its output is in {self.run_dir / 'trainer.err'}."
        if state == STOPPED:
            if stopped_in_checks(self.key_events):
                return "[b yellow]Stopped[/] while checking the prior on held-out sounds. Press r to start the checks again."
            return "[b yellow]Stopped[/]: the checkpoint is saved. Press r to resume where it stopped."
        if state == FINISHED:
            out = self.output_path()
            if self.stage == "prior":
                return f"[b blue]The prior is trained[/] and stored in {out}. Press o to use it in the editor."
            return (f"[b blue]The model is trained[/]: {out}.\nPress o to open it in the editor, "
                    "or t to train its prior (what Generate draws from).")
        folds = self.fold_note()  # the prior checks itself on held-out sounds before its "ready": 2/3 of its run
        if folds is None and (state == STARTING or (alive and not self.last.get("ready"))):
            return "Starting: reading the sounds and building the model…"
        return (folds or "Training.") + (" It runs on its own: leave this screen, close the TUI or drop "
                                                    "SSH; it keeps going.")

    def fold_note(self) -> str | None:
        """The prior's check on sounds it did not train on (its folds), in words; None outside that phase."""
        done, fold = self.last.get("folds"), self.last.get("fold")
        if self.stage != "prior" or (done is None and fold is None):
            return None
        if done is not None:
            kept = "the network is kept" if done.get("keep_network") else "the simple code-to-code counts are kept"
            if done.get("keep_blend"):
                kept = f"the network and the counts together are kept ({done.get('blend_perplexity')})"
            return (f"Checked on sounds it did not train on: {kept} (likely next codes: network "
                    f"{done.get('network_perplexity')}, counts {done.get('bigram_perplexity')}; fewer is better). "
                    "Training the final prior on every sound.")
        return (f"Checking the prior on sounds it did not train on: part {fold.get('fold')} of {fold.get('folds')} "
                f"done (likely next codes: network {fold.get('best_val_ppl')}, counts {fold.get('bigram_val_ppl')}; "
                "fewer is better).")

    def output_path(self) -> Path | None:
        done = self.last.get("done") or {}
        out = done.get("output") or done.get("model") or self.summary.output
        return Path(out) if out else None

    def refresh_view(self) -> None:
        state = self.state
        title = Text()
        title.append(f"{'Prior' if self.stage == 'prior' else 'Training'} · {self.run_dir.name}  ")
        title.append(state, style=STATE_STYLE.get(state, "bold"))
        self._set("#run-title", title)
        step = self.last.get("step") or {}
        n = self.step
        progress = 1.0 if state == FINISHED else step.get("progress")
        elapsed = self.elapsed
        sps = step.get("steps_per_s")
        rate = f"{sps if sps is not None else '?'} steps/s"
        if state != RUNNING and n and elapsed:  # the last interval held the final check: 0.83 after 5.8 all along
            rate = f"{n / elapsed:.2f} steps/s on average"
        left = elapsed * (1 - progress) / progress if progress and elapsed and 0 < progress < 1 else None
        times = (f"elapsed {run_clock(elapsed)}   left {run_clock(left)}" if state == RUNNING
                 else f"took {run_clock(elapsed)}")  # one line at 80 columns either way
        line = f"step {n}  {progress_bar(progress)} {100 * (progress or 0):3.0f}%   {rate}   {times}"
        fold = self.last.get("fold")
        if not step and fold and state == RUNNING:  # the prior's check on held-out sounds, before its steps
            done = int(fold.get("fold") or 0)
            line = (f"checking on held-out sounds  {progress_bar(done / max(int(fold.get('folds') or 1), 1))} "
                    f"part {done} of {fold.get('folds')} done")
        start = next((e for e in self.key_events if e.get("event") == "start"), None)
        if start:
            model = start.get("model") or start.get("prior") or {}
            sizes = model.get("codebook_sizes")
            what = f"{model.get('levels')} levels × {sizes[0] if sizes else '?'} codes" if sizes else model.get("architecture", "")
            line += f"\n{start.get('files')} files, {start.get('device')}, {what}"
        self._set("#run-status", line)
        self.query_one("#loss-chart", LossChart).refresh()
        self.query_one("#commit-chart", LossChart).refresh()
        self._set("#run-message", self.state_message())
        warn = Text()
        for w in self.warnings[-6:]:
            warn.append("⚠ ", style="bold yellow")
            warn.append(form_words(w) + "\n")
        self._set("#run-warnings", warn)
        if (state, self.alive) != self._bindings_state:  # resume waits for the trainer's exit, after its last event
            self._bindings_state = (state, self.alive)
            self.refresh_bindings()

    def _set(self, selector: str, content: str | Text) -> None:
        """Update a Static only when its text changed: an update re-lays out the screen, a flood must not."""
        key = content.markup if isinstance(content, Text) else content
        if self._shown.get(selector) != key:
            self._shown[selector] = key
            self.query_one(selector, Static).update(content)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only what can be done now is in the footer (at 80 columns all of it did not fit)."""
        state = self.state
        if action == "stop":
            return state in (RUNNING, STARTING)
        if action == "resume":
            return (state in (STOPPED, CRASHED, EMPTY) and not self.alive)
        if action == "train_prior":
            return (state == FINISHED and self.stage == "model")
        if action == "open_model":
            out = self.output_path()
            return (state == FINISHED and out is not None and out.exists())
        return True

    # ------------------------------------------------------------------ actions
    def action_stop(self) -> None:
        if launcher.stop(self.run_dir):
            self.notify("asked the trainer to save and stop", timeout=4)
        else:
            self.notify("no trainer is running for this run", severity="warning")
        if self.feed:
            self.feed.wake()

    def action_resume(self) -> None:
        try:
            started = launcher.resume(self.run_dir)
        except DistillError as exc:
            self.notify(str(exc), severity="error")
            return
        self.process = started.process
        self.alive = True
        self.notify("resuming from the checkpoint", timeout=4)
        if self.feed:
            self.feed.wake()
        self.refresh_view()

    def action_train_prior(self) -> None:
        out = self.output_path()
        if out is None or not out.exists():
            self.notify("the model file is not there yet", severity="warning")
            return
        data_dir = self.summary.data_dir

        def start(replace: bool) -> None:
            try:
                view = start_prior_training(out, Path(data_dir) if data_dir else None, self.run_dir.parent, replace)
            except DistillError as exc:
                self.notify(str(exc), severity="error")
                return
            self.app.switch_screen(view)

        unless_a_prior_is_kept(self.app, out, start)

    def action_open_model(self) -> None:
        """Open the trained model in the editor with (up to `HANDOFF_SOUNDS` of) the sounds it was trained on;
        sounds with unsaved edits in the editor are saved or discarded first, as the user chooses."""
        out = self.output_path()
        editor = getattr(self.app, "editor", None)
        if out is None or editor is None:
            self.notify("no model to open", severity="warning")
            return
        if self.stage == "prior" and editor.engine is not None and _same_file(editor.engine.path, out):
            while self.app.screen is not editor and len(self.app.screen_stack) > 1:  # the model is open: keep its sounds
                self.app.pop_screen()
            editor.reload_prior()
            return
        sounds = training_sounds(self.summary.data_dir)
        if len(sounds) > HANDOFF_SOUNDS:
            self.notify(f"opening the first {HANDOFF_SOUNDS} of {len(sounds)} training sounds; ': Open sound…' "
                        "for the others", timeout=6)

        def go() -> None:
            while self.app.screen is not editor and len(self.app.screen_stack) > 1:
                self.app.pop_screen()
            editor.switch_model(out, sounds[:HANDOFF_SOUNDS])  # the unsaved edits are settled

        from .confirm_unsaved import resolve_unsaved

        resolve_unsaved(editor, f"opening {out.name}", go)

    def action_zoom(self) -> None:
        for chart in self.query(LossChart):
            chart.window = None if chart.window else 200.0
            chart.refresh()

    def action_back(self) -> None:
        self.app.pop_screen()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
