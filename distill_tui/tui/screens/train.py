"""Start a training: pick a folder of sounds, see what was found and the defaults it implies, change a few settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from ...config import LONGEST_TRAINING_MIN, SpectrogramConfig
from ...errors import DistillError
from ...train import launcher
from ...words import duration
from .file_picker import FOLDER, PathPicker


def column_ms(stride: int) -> float:
    """How long one grid column lasts: `stride` spectrogram hops (the hop scales with the rate: about 11.6 ms)."""
    spec = SpectrogramConfig()
    return 1000.0 * stride * spec.hop_length / spec.sample_rate


# (field, label, one-line explanation)
SETTINGS: list[tuple[str, str, str]] = [
    ("codebook_size", "Codes per level", "how many distinct codes each level can use; fewer for fewer sounds"),
    ("levels", "Levels", "coarse to fine rows of codes; each adds detail (1-4; empty: chosen from your sounds)"),
    ("stride", "Stride", f"frames per grid column: 4 = a column every {column_ms(4):.0f} ms, sharper attacks; "
                         f"8 = every {column_ms(8):.0f} ms, shorter grids"),
    ("minutes", "Minutes", "how long to train; a run can be stopped early and resumed"),
    ("steps", "Steps", "a number of training steps instead of minutes (the same model on any machine)"),
    ("device", "Device", "auto picks CUDA, then Apple MPS, then the CPU"),
    ("output", "Model file", "where the trained model is written"),
    ("config", "Config file", "optional TOML with [model] and [train] tables (overrides the defaults above)"),
]


# What the form trains for when no steps, minutes or config file budget are given: the README's command. A fixed
# number of steps costs minutes on a GPU and half an hour on a 2-core laptop (4,000 steps: about 26 minutes on the
# slower test machine); minutes cost what they say, and the network's width follows them (`train/width.py`).
DEFAULT_MINUTES = 5.0


@dataclass
class ScanReport:
    """What a folder holds, as the train screen shows it."""

    root: Path
    files: int
    minutes: float
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    defaults: dict[str, Any] = field(default_factory=dict)  # levels, codebook_size, stride, minutes, device


@dataclass
class ScanDone(Message):
    report: ScanReport


@dataclass
class ScanFailed(Message):
    root: Path
    reason: str


def _sets_budget(config: Path | None) -> bool:
    """Whether a config file's [train] table gives steps or minutes (the form's default budget then stands aside)."""
    from ...config import load_toml

    if config is None:
        return False
    try:
        train = load_toml(config).get("train", {})
    except DistillError as exc:
        raise ValueError(str(exc)) from None
    return "steps" in train or "minutes" in train


def scan_folder(root: Path) -> ScanReport:
    """Decode every sound once (cached for the trainer too) and derive the dataset-adaptive defaults."""
    from ...config import TrainConfig, adaptive_model_config
    from ...data.dataset import scan

    spec, tc = SpectrogramConfig(), TrainConfig()
    result = scan(root, spec, max_file_seconds=tc.max_file_seconds, trim_silence=tc.trim_silence)
    summary = result.summary(root, spec.sample_rate)
    cfg = adaptive_model_config(summary.files, summary.minutes, spec.n_bins)
    return ScanReport(root=root, files=summary.files, minutes=summary.minutes, skipped=list(summary.skipped),
                      notes=list(result.notes), defaults={"levels": cfg.levels, "codebook_size": cfg.codebook_sizes[0],
                                                          "stride": cfg.stride, "minutes": DEFAULT_MINUTES,
                                                          "device": tc.device})


class TrainScreen(Screen):
    """Folder on the left (a path picker), what was found and the settings on the right; ctrl+t starts."""

    BINDINGS = [
        Binding("ctrl+t", "start", "start training", id="train.start"),
        Binding("escape", "back", "back", id="train.back"),
    ]
    DEFAULT_CSS = """
    TrainScreen #train-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    TrainScreen #train-body { height: 1fr; }
    TrainScreen #folder-pane { width: 1fr; max-width: 44; min-width: 24; border-right: vkey $panel; }
    TrainScreen #folder-label { height: 1; padding: 0 1; color: $primary; text-style: bold; }
    TrainScreen #form { width: 2fr; padding: 0 1; }
    TrainScreen #found { height: auto; margin-bottom: 1; }
    TrainScreen .row { height: auto; min-height: 3; }
    TrainScreen .row Label { width: 16; padding-top: 1; }
    TrainScreen .row Input { width: 1fr; max-width: 28; min-width: 12; height: 3; border: tall $foreground 30%; padding: 0 1; }
    TrainScreen .row Input:focus { border: tall $accent; }
    TrainScreen .row .why { width: 1fr; height: auto; padding: 1 0 0 1; color: $text-muted; }
    TrainScreen #start { margin-top: 1; }
    TrainScreen.-narrow .row { layout: vertical; margin-bottom: 1; }
    TrainScreen.-narrow .row Label { padding-top: 0; }
    TrainScreen.-narrow .row .why { width: 100%; padding: 0 1; }
    """
    # below 100 columns each setting's explanation goes under its field, not beside it
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self, folder: Path | None = None, *, browse_root: Path | None = None, runs_root: Path | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.browse_root = browse_root or (folder.parent if folder else Path.cwd())
        self.runs_root = runs_root
        self.report: ScanReport | None = None
        self.scanning: Path | None = None
        self.launched: launcher.Launched | None = None
        self.found_text = ""

    def compose(self) -> ComposeResult:
        yield Static("Train a model on a folder of sounds", id="train-title")
        with Horizontal(id="train-body"):
            with Vertical(id="folder-pane"):
                yield Static("Sounds folder", id="folder-label")
                yield PathPicker(FOLDER, self.folder or self.browse_root, id="path")
            with VerticalScroll(id="form"):
                yield Static("Choose a folder on the left: type its path (Tab completes) and press Enter, "
                             "or pick it in the list.", id="found")
                for name, label, why in SETTINGS:
                    with Horizontal(classes="row"):
                        yield Label(label)
                        yield Input(id=f"set-{name}")
                        yield Static(why, classes="why", markup=False)
                yield Button("Start training (ctrl+t)", id="start", variant="primary", disabled=True)
        yield Footer(show_command_palette=False)  # ":" is in the footer already

    def on_mount(self) -> None:
        self.query_one("#path", PathPicker).input.focus()
        if self.folder is not None:
            self.start_scan(self.folder)

    def say(self, text: str) -> None:
        """What the folder holds (or why it cannot be used): the panel under the path."""
        self.found_text = text
        self.query_one("#found", Static).update(text)

    # ------------------------------------------------------------------ choosing a folder
    def on_path_picker_picked(self, event: PathPicker.Picked) -> None:
        event.stop()
        self.start_scan(event.path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.report is not None:
            self.action_start()

    def start_scan(self, folder: Path) -> None:
        self.scanning = folder
        self.report = None
        self.query_one("#start", Button).disabled = True
        self.say(f"Reading the sounds in {escape(str(folder))}…")
        self._scan(folder)

    @work(thread=True, exclusive=True, group="scan")
    def _scan(self, folder: Path) -> None:
        try:
            report = scan_folder(folder)
        except DistillError as exc:
            self.post_message(ScanFailed(folder, str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a bad folder never takes the screen down
            self.post_message(ScanFailed(folder, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ScanDone(report))

    def on_scan_failed(self, message: ScanFailed) -> None:
        if message.root != self.scanning:
            return
        self.say(
            f"[b red]Nothing to train on.[/] {escape(message.reason)}\n"
            "Choose a folder that holds audio files (wav, flac, ogg, mp3, aiff), in sub-folders too.")

    def on_scan_done(self, message: ScanDone) -> None:
        r = message.report
        if r.root != self.scanning:
            return
        self.report = r
        lines = [f"[b]{r.files}[/] {'sound' if r.files == 1 else 'sounds'}, [b]{duration(r.minutes * 60)}[/] in total."]
        if r.skipped:
            lines.append(f"[yellow]{len(r.skipped)} skipped:[/]")
            for s in r.skipped[:6]:
                name = _relative(Path(s["path"]), r.root)
                lines.append(f"  {escape(name)}: {escape(s['reason'])}")
            if len(r.skipped) > 6:
                lines.append(f"  … and {len(r.skipped) - 6} more")
        for note in r.notes[:3]:
            lines.append(f"[dim]{escape(_relative(Path(note.split(':')[0]), r.root))}:{escape(note.split(':', 1)[-1])}[/]")
        d = r.defaults
        lines.append(f"Defaults for this much audio: {d['levels']} levels × {d['codebook_size']} codes, a column every "
                     f"{column_ms(d['stride']):.0f} ms (stride {d['stride']}), {d['minutes']:g} minutes of training. Leave a "
                     "field empty to keep its default.")
        if r.files < 5:
            lines.append("[yellow]Very few sounds: expect a model that knows them, not one that generalizes.[/]")
        self.say("\n".join(lines))
        for name in ("codebook_size", "levels", "stride", "device"):
            self.query_one(f"#set-{name}", Input).placeholder = str(d.get(name, ""))
        self.query_one("#set-minutes", Input).placeholder = f"{d['minutes']:g}"
        self.query_one("#set-steps", Input).placeholder = "(minutes decide)"
        out = self.query_one("#set-output", Input)
        if not out.value:  # in the current folder, a name that replaces nothing (a second run was refused)
            out.value = free_model_name(r.root.resolve().name or "model")
        self.query_one("#start", Button).disabled = False

    # ------------------------------------------------------------------ starting
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            event.stop()
            self.action_start()

    def value(self, name: str) -> str:
        return self.query_one(f"#set-{name}", Input).value.strip()

    def spec(self) -> launcher.TrainSpec:
        """The launch request from the form; raises ValueError with a message for the user."""
        if self.report is None:
            raise ValueError("choose a folder of sounds first (and wait for it to be read)")

        def number(name: str, kind: type, low: float) -> Any:
            text = self.value(name)
            if not text:
                return None
            try:
                v = kind(text)
            except ValueError:
                raise ValueError(f"{name.replace('_', ' ')} must be a {'whole ' if kind is int else ''}number") from None
            if not v >= low:  # NaN too
                raise ValueError(f"{name.replace('_', ' ')} must be at least {low}")
            return v

        steps, minutes = number("steps", int, 1), number("minutes", float, 0.01)
        if minutes is not None and not minutes <= LONGEST_TRAINING_MIN:  # inf too
            raise ValueError(f"minutes: at most {LONGEST_TRAINING_MIN} (a week); a run can be stopped and resumed")
        if steps is not None and minutes is not None:
            raise ValueError("give steps or minutes, not both")
        stride = number("stride", int, 1)
        if stride is not None and stride not in (2, 4, 8, 16):
            raise ValueError("stride must be 2, 4, 8 or 16")
        device = self.value("device") or None
        if device is not None and device not in ("auto", "cpu", "cuda", "mps"):
            raise ValueError("device is auto, cpu, cuda or mps")
        output = Path(self.value("output") or f"{self.report.root.name}.distill").expanduser()
        if output.is_dir():
            raise ValueError("the model file is a folder; give a file name like sounds.distill")
        if output.exists():
            raise ValueError(f"{output} already exists: give another file name (training would replace it)")
        config = Path(self.value("config")).expanduser() if self.value("config") else None
        if config is not None and not config.is_file():
            raise ValueError(f"no config file {config}")
        if steps is None and minutes is None and not _sets_budget(config):
            minutes = self.report.defaults.get("minutes", DEFAULT_MINUTES)
        run_dir = launcher.new_run_dir(output.stem, self.runs_root)
        return launcher.TrainSpec(data_dir=self.report.root, output=output, run_dir=run_dir, steps=steps,
                                  minutes=minutes, device=device, levels=number("levels", int, 1),
                                  codebook_size=number("codebook_size", int, 2), stride=stride, config=config)

    def action_start(self) -> None:
        try:
            spec = self.spec()
            started = launcher.launch(spec)
        except (ValueError, DistillError) as exc:
            self.notify(str(exc), title="Cannot start", severity="error")
            return
        self.launched = started
        from .run_view import RunViewScreen

        view = RunViewScreen(started.run_dir)
        view.process = started.process
        self.app.switch_screen(view)

    def action_back(self) -> None:
        self.app.pop_screen()


def free_model_name(stem: str, folder: Path | None = None) -> str:
    """`STEM.distill`, or the first of `STEM-2.distill`, `STEM-3.distill`, … not in `folder` (default: the
    current one): training a second model on the same sounds said "already exists: give another file name"."""
    folder = folder or Path.cwd()
    name, n = f"{stem}.distill", 2
    while (folder / name).exists():
        name, n = f"{stem}-{n}.distill", n + 1
    return name


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
