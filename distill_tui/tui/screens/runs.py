"""Training runs in progress and finished: attach to one, or start a new one; the app's hooks for all training screens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from ...train.runfolder import LOCK_FILE
from ...train.runs import (
    CRASHED,
    FINISHED,
    PID_FILE,
    STOPPED,
    RunSummary,
    discover,
    is_run_dir,
    runs_root,
    summarize,
)
from ...words import counted
from ..run_text import progress_bar
from .run_view import STATE_STYLE


@dataclass
class RunsFound(Message):
    runs: list[RunSummary]


def run_line(r: RunSummary, name_width: int = 34) -> Text:
    """One run's row: state, name (padded to `name_width`), stage, step, progress and what the run says."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{r.state:<9}", style=STATE_STYLE.get(r.state, "bold"))
    t.append(f" {r.name:<{name_width}} ", style="bold")
    t.append(f"{'prior' if r.stage == 'prior' else 'model':<6}")
    if r.state == FINISHED and r.output:  # a full bar says nothing the state does not: the model's name needs the room
        t.append(run_detail(r), style="dim")
        t.append(f" · {counted(r.step, 'step')}", style="dim")
        return t
    t.append(f"step {r.step:<7} {progress_bar(r.progress, 10)} ")
    t.append(run_detail(r), style="dim")
    return t


def run_detail(r: RunSummary) -> str:
    """The row's last words: for a finished run the model it made ("finished at step 346" repeated the state and
    the step the row shows already); otherwise what the run says."""
    if r.state == FINISHED and r.output:
        model = Path(r.output).name
        return f"added to {model}" if r.stage == "prior" else f"made {model}"
    return r.message


class RunsScreen(Screen):
    """Every run folder under the runs root (and any given), refreshed every two seconds."""

    BINDINGS = [
        Binding("enter", "attach", "attach", id="runs.attach", show=False),
        Binding("n", "new", "new training", id="runs.new"),
        Binding("a", "attach_path", "attach to a folder…", id="runs.attach_path",
                tooltip="a run folder started from the command line (MODEL.run, or --run DIR)"),
        Binding("escape", "back", "back", id="runs.back"),
    ]
    DEFAULT_CSS = """
    RunsScreen #runs-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    RunsScreen #runs-help { height: auto; padding: 0 1; color: $text-muted; }
    RunsScreen OptionList { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, extra: list[Path] | None = None, root: Path | None = None) -> None:
        super().__init__()
        self.extra = list(extra or [])
        self.root = root
        self.runs: list[RunSummary] = []

    def compose(self) -> ComposeResult:
        yield Static("Training runs", id="runs-title")
        yield Static("Enter attaches to a run (it keeps training whatever this screen does); n starts a new one; "
                     "a attaches to a run folder started from the command line.",
                     id="runs-help")
        yield OptionList(id="runs")
        yield Footer(show_command_palette=False)  # ":" is in the footer already

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.scan_runs()
        self.set_interval(2.0, self.scan_runs)

    @work(thread=True, exclusive=True, group="runs")
    def scan_runs(self) -> None:
        self.post_message(RunsFound(discover(self.extra, self.root)))

    def on_runs_found(self, message: RunsFound) -> None:
        ol = self.query_one(OptionList)
        keep = ol.highlighted
        self.runs = message.runs
        ol.clear_options()
        if not self.runs:
            ol.add_option(Option(Text("no runs yet: press n to train a model", style="dim"), disabled=True))
            return
        width = min(max(len(r.name) for r in self.runs), 34)  # no wider than the names: at 80 columns the
        ol.add_options([Option(run_line(r, width), id=str(r.path)) for r in self.runs])  # message needs the room
        ol.highlighted = min(keep or 0, len(self.runs) - 1)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.attach(Path(str(event.option.id)))

    def action_attach(self) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None and ol.highlighted < len(self.runs):
            self.attach(self.runs[ol.highlighted].path)

    def attach(self, run_dir: Path) -> None:
        from .run_view import RunViewScreen

        self.app.push_screen(RunViewScreen(run_dir))

    def action_attach_path(self) -> None:
        from .prompt import PromptScreen

        def then(text: str | None) -> None:
            if not text:
                return
            path = Path(text).expanduser()
            if not is_run_dir(path):
                self.notify(f"{path} is not a run folder (no events.jsonl or run.json)", severity="error")
                return
            self.extra.append(path)
            self.scan_runs()
            self.attach(path)

        self.app.push_screen(PromptScreen("Run folder to attach to", "", "e.g. kit.distill.run (Enter: attach, Esc: cancel)"),
                             then)

    def action_new(self) -> None:
        from .train import TrainScreen

        self.app.push_screen(TrainScreen(runs_root=self.root))

    def action_back(self) -> None:
        self.app.pop_screen()


# -------------------------------------------------------------------------------------------------
# hooks for the app (kept here so app.py only calls them)


def training_commands(app: Any) -> Iterator[SystemCommand]:
    """Palette entries: train, runs, the codebook browser and the model report."""
    from .train import TrainScreen

    yield SystemCommand("Train a model…", "pick a folder of sounds and start training", lambda: app.push_screen(TrainScreen()))
    yield SystemCommand("Training runs", "runs in progress and finished: attach to one (ctrl+t)",
                        lambda: app.push_screen(RunsScreen()))
    editor = getattr(app, "editor", None)
    if editor is not None and editor.engine is not None:
        from .codebook import CodebookScreen
        from .report import ReportScreen

        yield SystemCommand("Codebook browser", "every code of every level: usage, sound, where it occurs",
                            lambda: app.push_screen(CodebookScreen(editor.engine, editor)))
        yield SystemCommand("Model report", "what the model learnt from, how each level is used, the prior; export as Markdown",
                            lambda: app.push_screen(ReportScreen(editor.engine.path)))


def announce_runs(app: Any, root: Path | None = None, *, headless_too: bool = False) -> RunWatcher:
    """At start-up: say which runs are training right now, then, from that same look on, when one ends
    (`RunWatcher`; read in a thread, so the first frame is not delayed). One look at the run folders serves
    both: each was read twice at start-up, a run started from the shell costing a scan of /proc each time.

    Headless apps (tests, benchmarks) skip it unless asked: a real run elsewhere must not change their screens."""
    watcher = RunWatcher(app, root)
    watcher.start(headless_too)
    return watcher


def in_progress_words(live: list[RunSummary]) -> str:
    """The start-up line for the runs training right now (the newest three named)."""
    live = sorted(live, key=lambda r: -(r.last_time or 0.0))
    names = ", ".join(f"{r.name} (step {r.step})" for r in live[:3])
    return f"{counted(len(live), 'training run')} in progress: {names}. ctrl+t to attach."


WATCH_EVERY_S = 3.0  # how often the app looks whether a run that was going has ended


def ended_words(r: RunSummary) -> tuple[str, str]:
    """(message, severity) for a run that has just ended, said wherever the person is in the app."""
    model = Path(str(r.output)).name if r.output else r.name
    if r.state == FINISHED:
        if r.stage == "prior":
            return f"The prior of {model} is trained: ctrl+t, Enter, then o puts it to use in the editor.", "information"
        return f"{model} is trained: ctrl+t, Enter, then o opens it in the editor.", "information"
    if r.state == STOPPED:
        return f"Training {r.name} stopped at step {r.step}: ctrl+t, Enter, then r resumes it.", "warning"
    if r.state == CRASHED:
        return f"Training {r.name} failed: {r.message}. ctrl+t shows the run.", "error"
    return f"Training {r.name} ended ({r.state}).", "warning"


class RunWatcher:
    """Says, wherever the person is, when a training run that was going ends: the first hour's training ran
    for five minutes while they tried the demo, and nothing told them the model was ready.

    Every `every` seconds the run folders are read in a thread (`read`: only those going or changed); a run
    seen alive before and not now is announced once, unless its own run view is on screen (it says so itself). Headless apps
    (tests, benchmarks) do not watch unless asked: a real run elsewhere must not change their screens."""

    def __init__(self, app: Any, root: Path | None = None, every: float = WATCH_EVERY_S) -> None:
        self.app, self.root, self.every = app, root, every
        self.going: set[Path] | None = None  # the runs alive at the last look; None before the first
        self.quiet: dict[Path, tuple] = {}  # runs not going at the last look, by their files' stamps

    def start(self, headless_too: bool = False) -> None:
        if getattr(self.app, "is_headless", False) and not headless_too:
            return
        self.app.set_interval(self.every, self._tick)
        self._tick()

    def _tick(self) -> None:
        self.app.run_worker(self.look, thread=True, group="watch-runs", exclusive=True, exit_on_error=False)

    def look(self) -> list[RunSummary]:
        """Read the runs; return (and announce) those that were going at the last look and have ended."""
        before = self.going
        read = self.read()
        live = [r for r in read if r.alive]
        if before is None and live:  # the first look, at start-up
            self.app.call_from_thread(self.app.notify, in_progress_words(live), title="Training", timeout=10)
        ended = [r for r in read if before is not None and r.path in before and not r.alive]
        for r in ended:
            self.app.call_from_thread(self._announce, r)
        return ended

    def read(self) -> list[RunSummary]:
        """Summarize the runs going at the last look and those whose files changed since (the others are quiet
        and stay so: finding the process of a run started from the shell reads /proc, and a runs folder keeps
        every old run); update `going` and `quiet`, and return what was read."""
        root = self.root or runs_root()
        folders = [p for p in root.iterdir() if is_run_dir(p)] if root.is_dir() else []
        going, quiet, read = set(), {}, []
        for folder in folders:
            stamp = _stamp(folder)
            if folder not in (self.going or set()) and self.quiet.get(folder) == stamp:
                quiet[folder] = stamp
                continue
            r = summarize(folder, 32 << 10)
            read.append(r)
            if r.alive:
                going.add(folder)
            else:
                quiet[folder] = stamp
        self.going, self.quiet = going, quiet
        return read

    def _announce(self, r: RunSummary) -> None:
        from .run_view import RunViewScreen

        screen = self.app.screen
        if isinstance(screen, RunViewScreen) and screen.run_dir.resolve() == r.path.resolve():
            return  # the run's own view says it
        message, severity = ended_words(r)
        self.app.notify(message, title="Training", severity=severity, timeout=15)


def still_training(watcher: RunWatcher | None) -> list[str]:
    """After the app has quit: a line for each run still training (read once more, as `RunWatcher.read` does),
    so quitting is not taken for stopping it."""
    if watcher is None or watcher.going is None:
        return []
    lines = []
    for r in sorted((r for r in watcher.read() if r.alive), key=lambda r: r.name):
        done = f", {r.progress:.0%}" if r.progress is not None else ""
        lines.append(f"{r.name} is still training (step {r.step}{done}): it goes on without the editor; "
                     "`distill-tui`, then ctrl+t, shows it")
    return lines


def _stamp(folder: Path) -> tuple:
    """What changes when a run starts, resumes or writes: its files' sizes and times (missing ones: None)."""
    out: list[Any] = []
    for name in ("events.jsonl", PID_FILE, LOCK_FILE):
        try:
            st = (folder / name).stat()
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)
