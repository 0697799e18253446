"""`DistillApp`: themes, the keymap, the command palette, help and quitting; the editor screen does the rest."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .keymap import APP_BINDINGS, load_user_keymap
from .palette import GridColours
from .palette_search import TitlesThenHelp
from .screens.editor import EditorScreen
from .screens.help import HelpScreen
from .themes import DEFAULT_THEME, load_themes, remember_theme, remembered_theme


class DistillApp(App, inherit_bindings=False):
    """The editor. `router` replaces the audio router (tests pass one that records what would be played).

    `train_folder`: a folder of sounds given where the model goes (`distill-tui open ~/sounds/kit`); the training
    form opens on it over the empty editor.

    The theme is `theme` when it names a known theme (`--theme`; used for this launch only), else the one
    picked last time (`themes.remembered_theme`), else `DEFAULT_THEME`. A theme picked while the app runs
    (the palette's Theme command) is remembered for the next launch.
    """

    COMMANDS = {TitlesThenHelp}  # the palette finds an entry by its help's words too ("morph", "mix")
    CSS_PATH = Path(__file__).with_name("distill.tcss")
    TITLE = "Distill"
    BINDINGS = [*APP_BINDINGS, Binding("ctrl+c", "help_quit", show=False, system=True)]

    def __init__(self, model: Path | None = None, audio: list[Path] | None = None, *, router: Any = None,
                 theme: str | None = None, theme_dirs: list[Path] | None = None, keymap_path: Path | None = None,
                 train_folder: Path | None = None) -> None:
        super().__init__()
        self.model = model
        self.train_folder = train_folder
        self.audio = list(audio or [])
        self.router = router
        loaded = load_themes(theme_dirs)
        self.theme_colours: dict[str, GridColours] = loaded.colours
        self._problems = list(loaded.problems)
        for t in loaded.themes:
            self.register_theme(t)
        keys = load_user_keymap(keymap_path)
        self.user_keymap = keys.keymap
        self._problems += keys.problems
        self._remembered = remembered_theme()
        if theme is not None and theme not in self.available_themes:  # a typo in --theme went unnoticed
            ours = sorted(t.name for t in loaded.themes)
            self._problems.append(f"--theme: no theme is named {theme!r} (there are {', '.join(ours)})")
        if theme in self.available_themes:
            self.theme = theme
        elif self._remembered in self.available_themes:
            self.theme = self._remembered
        else:
            self.theme = DEFAULT_THEME
        self._launch_theme = self.theme
        if keys.keymap:
            self.set_keymap(keys.keymap)

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:
        """A toast. Our messages are plain text, never markup: file names, reasons and install hints keep their
        brackets (`pip install 'distill-tui[audio]'` lost its extra to Textual markup). Screens and widgets call
        this with markup=True by default, so it is ignored."""
        super().notify(message, markup=False, **kwargs)

    @property
    def grid_colours(self) -> GridColours:
        return self.theme_colours.get(self.theme, GridColours())

    def get_default_screen(self) -> Screen:
        return EditorScreen(self.model, self.audio, router=self.router)

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        for problem in self._problems:
            self.notify(problem, title="Settings", severity="warning", timeout=8)
        from .screens.runs import announce_runs

        self.run_watcher = announce_runs(self)  # runs in progress, then each that ends, wherever the person is
        if self.train_folder is not None:
            from .screens.train import TrainScreen

            self.push_screen(TrainScreen(self.train_folder))
            self.notify(f"{self.train_folder.name or self.train_folder} holds sounds, not a model: train one on them "
                        "here (ctrl+t starts; Esc goes to the editor)", title="No model yet", timeout=10)

    def _theme_changed(self, theme: Any) -> None:
        editor = self.editor
        if editor is not None:
            editor.apply_colours(self.grid_colours)
        self._remember(theme.name)

    def _remember(self, name: str) -> None:
        """Save a theme picked while running; the launch's own theme (from `--theme` or remembered) is not saved."""
        if name == self._launch_theme or name == self._remembered:
            return
        self._launch_theme = ""  # from now on every pick is saved, even a return to the launch's theme
        problem = remember_theme(name)
        if problem:
            self.notify(problem, title="Settings", severity="warning")
        else:
            self._remembered = name

    @property
    def editor(self) -> EditorScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, EditorScreen):
                return screen
        return None

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own list (Keys, Maximize, Screenshot, a Quit that skips the unsaved-edits question) is
        # not offered: these two are Distill's, then its own commands.
        yield SystemCommand("Theme", "colours of the grid and the screens; remembered", self.action_change_theme)
        yield SystemCommand("Quit", "asks first when a sound has unsaved edits (q)", self.action_request_quit)
        yield SystemCommand("Help (keys)", "every key, by family (? or F1)", self.action_help)
        if isinstance(screen, EditorScreen):
            from .commands import editor_commands

            yield from editor_commands(screen)
        from .screens.runs import training_commands

        yield from training_commands(self)

    def action_training(self) -> None:
        """Training runs: attach to one, or start a new one."""
        from .screens.runs import RunsScreen

        if not isinstance(self.screen, RunsScreen):
            self.push_screen(RunsScreen())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_request_quit(self) -> None:
        """Quit; with unsaved edits, first Save all / Discard / Cancel (as before opening another model)."""
        from .screens.confirm_unsaved import UnsavedScreen, resolve_unsaved

        editor = self.editor
        if editor is None:
            self.exit()
        elif not isinstance(self.screen, UnsavedScreen):  # ctrl+q again while it asks: the question stands
            resolve_unsaved(editor, "quitting", self.exit)
