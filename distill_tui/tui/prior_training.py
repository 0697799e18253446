"""Training the prior from the editor or from a finished run's view: ask before a prior is replaced, then start
`train-prior` detached and follow it in a run view.

A model that has a prior keeps it unless the person says "Train" (`train-prior` itself refuses without
`--force`, which the launcher passes only then).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DistillError
from ..persistence.header import read_header_document
from ..train import launcher

if TYPE_CHECKING:
    from .screens.editor import EditorScreen
    from .screens.run_view import RunViewScreen


def model_has_prior(model: Path) -> bool:
    """Whether the model file holds a prior (its header alone is read); `DistillError` when it cannot be read."""
    return read_header_document(model).prior is not None


def unless_a_prior_is_kept(app: Any, model: Path, then: Callable[[bool], None]) -> None:
    """Call `then(replace)`: at once with False when the model has no prior; when it has one, after asking,
    with True on "Train" (nothing on "Keep"). A model that cannot be read is said instead. The file decides,
    not the loaded engine: a prior that failed to load is still replaced."""
    try:
        has_prior = model_has_prior(model)
    except DistillError as exc:
        app.notify(str(exc), severity="error")
        return
    if not has_prior:
        then(False)
        return
    from .screens.confirm import ConfirmScreen

    app.push_screen(ConfirmScreen(f"{model.name} has a prior: train a new one? It replaces this one when it is done.",
                                  yes="Train", no="Keep"), lambda go: then(True) if go else None)


def start_prior_training(model: Path, data_dir: Path | None = None, runs_root: Path | None = None,
                         replace: bool = False) -> RunViewScreen:
    """Start `train-prior MODEL [DATA_DIR]` detached, in a new run folder, and give back the run view that follows
    it (`data_dir` None: the folder the model was trained on; `replace`: the person chose to replace the prior
    the model has). A `DistillError` says why it could not start."""
    from .screens.run_view import RunViewScreen

    run_dir = launcher.new_run_dir(model.stem + "-prior", runs_root)
    started = launcher.launch(launcher.PriorSpec(model=model, run_dir=run_dir, data_dir=data_dir, replace=replace))
    view = RunViewScreen(run_dir)
    view.process = started.process
    view.stage = "prior"
    return view


def train_prior(s: EditorScreen) -> None:
    """The editor's "Train the prior…": on the open model (asking first when it has one), on the sounds it was
    trained on (asking where they are when their folder has moved), followed in the run view."""
    if not s.require("model"):
        return
    from .screens.file_picker import FOLDER, FilePickerScreen

    model = s.engine.path
    root = s.engine.doc.dataset.root if s.engine.doc is not None else ""

    def launch(sounds: Path | None, replace: bool) -> None:
        try:
            view = start_prior_training(model, sounds, replace=replace)
        except DistillError as exc:
            s.notify(str(exc), severity="error")
            return
        s.app.push_screen(view)

    def start(replace: bool) -> None:
        if root and Path(root).is_dir():
            launch(Path(root).absolute(), replace)  # the folder the model was trained on
            return
        # moved, or never recorded: the prior learns from the sounds, so ask where they are now
        where = f"Where are the sounds {model.name} was trained on?" + (f" ({root} is gone)" if root else "")
        near = next((p for p in Path(root).absolute().parents if p.is_dir()), None) if root else None
        s.app.push_screen(FilePickerScreen(where, FOLDER, near),
                          lambda folder: launch(folder, replace) if folder else None)

    unless_a_prior_is_kept(s.app, model, start)
