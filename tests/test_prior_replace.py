"""A trained prior is never replaced without asking: `train-prior` refuses a model that has one unless --force,
a run folder resumes only on its own sounds, and the editor and the run view ask before they start a new one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from distill_tui.cli import main
from distill_tui.errors import BadInputError
from distill_tui.persistence.model_file import load_model_file
from distill_tui.train import launcher
from distill_tui.train.prior_loop import PriorRequest, PriorTrainConfig, train_prior
from distill_tui.tui.screens.confirm import ConfirmScreen
from distill_tui.tui.screens.run_view import RunViewScreen

from .test_tui_prior_training import editor_on, editor_ready, started  # noqa: F401 - the fixture
from .test_tui_support import aio, until
from .test_tui_train import SIZE, ev, make_run, state  # noqa: F401 - the fixture

SMALL = ["--steps", "2", "--context", "8", "--layers", "1", "--d-model", "32", "--no-augment", "--quiet"]


def test_train_prior_refuses_to_replace_a_prior_without_force(prior_model, dataset, tmp_path, capsys):
    """`train-prior MODEL --run NEW` replaced the model's trained prior with a new one when it ended, unasked."""
    model = tmp_path / "kit.distill"
    shutil.copyfile(prior_model, model)
    before = model.read_bytes()
    assert main(["train-prior", str(model), str(dataset), "--run", str(tmp_path / "new"), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {model}: has a prior already; add --force") and "\n" not in err, err
    assert model.read_bytes() == before and not (tmp_path / "new").exists()

    assert main(["train-prior", str(model), str(dataset), "--run", str(tmp_path / "new"), *SMALL, "--force"]) == 0
    assert load_model_file(model).doc["prior"]["training"]["steps"] == 2  # replaced, as asked
    # the masked prior is a second one: the causal prior in the file does not stop its first training
    assert main(["train-prior", str(model), str(dataset), "--shape", "masked", *SMALL]) == 0
    again = model.read_bytes()
    assert main(["train-prior", str(model), str(dataset), "--shape", "masked", "--run", str(tmp_path / "m2"), *SMALL]) == 2
    assert "has a masked prior already; add --force" in capsys.readouterr().err
    assert model.read_bytes() == again


def test_a_run_folder_resumes_only_on_the_sounds_it_trained_on(tiny_model, dataset, tmp_path):
    """`train-prior MODEL OTHER_FOLDER` found the finished run beside the model and wrote its old prior again."""
    model = tmp_path / "kit.distill"
    shutil.copyfile(tiny_model, model)
    other = tmp_path / "other"
    shutil.copytree(dataset, other)

    def request(folder: Path) -> PriorRequest:
        return PriorRequest(model_path=model, run_dir=tmp_path / "run", data_dir=folder,
                            train=PriorTrainConfig(steps=2, augment=False, folds=2),
                            prior_overrides={"d_model": 32, "layers": 1, "context": 8})

    assert train_prior(request(dataset)).status == "done"
    before = model.read_bytes()
    with pytest.raises(BadInputError, match=f"this run folder trains on {dataset.resolve()}, not {other}"):
        train_prior(request(other))
    assert model.read_bytes() == before
    assert train_prior(request(dataset)).status == "done"  # the same folder: written again, as before


def test_the_launcher_passes_force_only_when_the_person_chose_to_replace(tmp_path):
    spec = launcher.PriorSpec(model=tmp_path / "m.distill", run_dir=tmp_path / "r")
    assert "--force" not in spec.args() and "--force" in launcher.PriorSpec(spec.model, spec.run_dir, replace=True).args()


@aio
async def test_the_editor_asks_and_then_replaces(prior_model: Path, tmp_path: Path, state: Path, started):  # noqa: F811
    app = editor_on(prior_model, tmp_path, copy_as="kit.distill")
    async with app.run_test(size=SIZE) as pilot:
        ed = await editor_ready(pilot, app)
        {c.title: c.callback for c in app.get_system_commands(ed)}["Train the prior…"]()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RunViewScreen), what="the prior's run view")
        assert started[0].replace is True and "--force" in started[0].args()


@aio
async def test_the_run_view_asks_before_replacing_a_prior(prior_model: Path, tmp_path: Path, state: Path,  # noqa: F811
                                                          started):  # noqa: F811
    """Its `t` started `train-prior` on a model that had a prior: the trainer refused (or, before, replaced it)."""
    run = make_run(tmp_path / "kit", ev(event="start", step=0), ev(event="done", step=10))
    shutil.copy(prior_model, run / "m.distill")
    app = editor_on(prior_model, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        view = RunViewScreen(run)
        app.push_screen(view)
        await until(pilot, lambda: view.check_action("train_prior", ()), what="the finished run")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.pause()
        await pilot.press("n")  # Keep
        await until(pilot, lambda: app.screen is view, what="back to the run")
        assert not started
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question again")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, RunViewScreen) and app.screen is not view, what="the prior's run")
        assert [s.replace for s in started] == [True] and started[0].model == run / "m.distill"
