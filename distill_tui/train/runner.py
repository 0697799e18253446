"""The one training loop of both stages; a stage (`Stage`) brings the model and its hooks.

The runner owns what both stages do the same way: the run folder (its lock, stale temporary files, its
removal after a failed setup it created), resuming from the checkpoint (`checkpoint.py`), the budget
and the learning-rate schedule (`state.py`), SIGINT/SIGTERM (`signals.py`), periodic checkpoints,
`step` events at most one a second (plus step 1), the stop reasons ("budget", "early-stop",
"signal"), the finished checkpoint that holds the model before it is written, and the "error" event.

A run, in order: `check_resumable(checkpoint)` when there is one; `setup(checkpoint or None)`; on a fresh run an "initial" checkpoint;
`on_train_start`; a "ready" event; then per step `training_step(lr)` and every `eval_every` steps
`validation(progress)`; at the end `finish(stopped_by)` gives the model to write, which goes into a
finished checkpoint first and then to `write_model`. When that write fails nothing is lost: running
the same command again finds the finished checkpoint and calls `write_model` with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from ..errors import DistillError, OutputError
from .adamw import AdamW
from .checkpoint import (
    CHECKPOINT,
    FINAL_PREFIX,
    Checkpoint,
    Groups,
    flatten_optimizer,
    optimizer_groups,
    read_checkpoint,
    refuse_old_run_folder,
    write_checkpoint,
)
from .events import EventLog
from .governor import ThreadGovernor
from .runfolder import RunFolder
from .signals import stop_on_signals
from .state import STOP_BUDGET, STOP_EARLY, STOP_SIGNAL, LoopConfig, TrainerState, make_clock


@dataclass
class FinalModel:
    """What a finished run writes: the stage's JSON document and its tensor groups."""

    doc: dict[str, Any]
    tensors: Groups


class Stage(Protocol):
    """The hooks a training stage gives the runner (Lightning's names where there is one)."""

    name: str  # "model" (stage 1) or "prior": the checkpoint says which stage wrote it
    model: torch.nn.Module
    optimizer: AdamW
    threads_governed: bool  # the runner may train on one CPU thread while that is cheaper (`governor.py`)

    def check_resumable(self, ckpt: Checkpoint) -> None:
        """Refuse (one line) a checkpoint this request cannot continue; take the settings a resumed run keeps."""

    def setup(self, ckpt: Checkpoint | None) -> None:
        """Read the data, build model and optimizer (from `ckpt` when resuming); emit "start" or "resume"."""

    def loop_config(self) -> LoopConfig: ...

    def on_train_start(self, fresh: bool) -> None:
        """After the initial checkpoint (fresh runs), before the first step."""

    def training_step(self, lr: float) -> bool:
        """One optimizer step at learning rate `lr` (already set); False when no step was taken."""

    def step_fields(self) -> dict[str, Any]:
        """The stage's keys of the "step" event for the latest step (loss, ...)."""

    def validation(self, progress: float) -> bool:
        """Evaluate; True to stop early."""

    def checkpoint_info(self) -> dict[str, Any]:
        """The stage's configs, for a checkpoint (what `setup` needs to rebuild the same model)."""

    def stage_state(self) -> dict[str, Any]:
        """The stage's running values (JSON), saved as `TrainerState.stage`."""

    def best_tensors(self) -> dict[str, torch.Tensor]: ...

    def finish(self, stopped_by: str) -> FinalModel:
        """After the loop: the model to write (the runner saves it in the finished checkpoint first)."""

    def write_model(self, final: FinalModel, again: bool) -> Any:
        """Write the finished model, emit "done", return the stage's result. `again`: from a finished
        checkpoint of an earlier call (`setup` was not called)."""

    def stopped_result(self) -> Any: ...


class Runner:
    """Runs a `Stage` in a run folder; see the module's docstring."""

    def __init__(self, stage: Stage, run_dir: Path, log: EventLog) -> None:
        self.stage = stage
        self.run_dir = Path(run_dir)
        self.log = log
        self.state = TrainerState()
        self.stop_signal: str | None = None
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self._last_step_event = 0.0
        self._ready = False  # setup is over: a failure from here on leaves the run folder as it is

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT

    # ------------------------------------------------------------------ for the stages
    def warn(self, message: str, key: str, step: int | None = None, once: bool = False, **extra: Any) -> None:
        """A "warning" event, also kept for the result; `once`: only the first time for this key."""
        if once and key in self._warned:
            return
        self._warned.add(key)
        self.warnings.append(message)
        self.log.emit("warning", step=self.state.step if step is None else step, message=message, key=key, **extra)

    def show_next_step(self) -> None:
        """Emit the next step's event whatever the rate limit (e.g. to show a new batch size)."""
        self._last_step_event = 0.0

    def request_stop(self, name: str) -> None:
        self.stop_signal = name

    # ------------------------------------------------------------------ the run
    def run(self) -> Any:
        """Run or resume; any failure is logged as an "error" event (or, after a failed setup in a folder
        this call made, the folder is removed) and raised."""
        folder = RunFolder(self.run_dir)
        folder.open()  # refused (a live trainer holds it, unwritable): nothing to log, nothing to remove
        self._ready = False
        try:
            with stop_on_signals(self.request_stop):
                return self._run()
        except Exception as exc:
            if not self._ready and folder.created:
                self.log.close()
                folder.close(remove=True)
                folder = None
            else:
                message = str(exc) if isinstance(exc, DistillError) else f"{type(exc).__name__}: {exc}"
                try:
                    self.log.emit("error", message=message)
                except DistillError:
                    pass
            raise
        finally:
            self.log.close()
            if folder is not None:
                folder.close()

    def _run(self) -> Any:
        t_setup = time.time()
        refuse_old_run_folder(self.run_dir)
        ckpt = read_checkpoint(self.checkpoint_path, self.stage.name) if self.checkpoint_path.exists() else None
        if ckpt is not None:
            self.state = ckpt.state
            self.stage.check_resumable(ckpt)
        if ckpt is not None and ckpt.state.finished:
            self._ready = True
            final = FinalModel(ckpt.info.get("final_doc") or {}, ckpt.final_tensors())
            return self._write_final(final, kept=True, again=True)
        self.stage.setup(ckpt)
        cfg = self.stage.loop_config()
        if ckpt is None:
            self.checkpoint("initial")
        self.stage.on_train_start(fresh=ckpt is None)
        self.log.emit("ready", step=self.state.step, setup_s=round(time.time() - t_setup, 3))
        self._ready = True

        stopped_by = self._loop(cfg)
        if stopped_by == STOP_SIGNAL:
            self.checkpoint(f"stopped by {self.stop_signal}")
            self.log.emit("stopped", step=self.state.step, signal=self.stop_signal, elapsed_s=round(self.state.elapsed_s, 2),
                          message="checkpoint saved; run the same command again to resume")
            return self.stage.stopped_result()
        final = self.stage.finish(stopped_by)
        self.state.finished, self.state.stopped_by = True, stopped_by
        kept = self.checkpoint("finished", final)
        return self._write_final(final, kept, again=False)

    def _loop(self, cfg: LoopConfig) -> str:
        """Train until the budget is spent, validation says stop, or a signal came; returns which."""
        threads = torch.get_num_threads()
        governor = ThreadGovernor(threads if self.stage.threads_governed else 1)
        try:
            return self._steps(cfg, make_clock(cfg.budget.clock), governor)
        finally:
            torch.set_num_threads(threads)  # what comes after the loop runs on the count it was given

    def _steps(self, cfg: LoopConfig, clock: Callable[[], float], governor: ThreadGovernor) -> str:
        st, stage = self.state, self.stage
        last_ckpt = t_rate = time.time()
        steps_since = 0
        t_prev = clock()
        while True:
            now = clock()
            st.elapsed_s += now - t_prev  # the whole loop's time: steps, evaluations and checkpoints
            t_prev = now
            progress = cfg.budget.progress(st.step, st.elapsed_s)
            if progress >= 1.0:
                return STOP_BUDGET
            if self.stop_signal:
                return STOP_SIGNAL
            lr = cfg.schedule.rate(st.step, progress, st.lr_scale)
            for g in stage.optimizer.param_groups:
                g["lr"] = lr
            t_step = clock()
            if not stage.training_step(lr):
                continue
            st.step += 1
            if governor.active:
                self._govern(governor, clock() - t_step)
            steps_since += 1
            now = time.time()
            if now - self._last_step_event >= 1.0 or st.step == 1:
                self.log.emit("step", step=st.step, **stage.step_fields(), lr=lr,
                              steps_per_s=round(steps_since / max(now - t_rate, 1e-6), 2),
                              elapsed_s=round(st.elapsed_s, 2), progress=round(min(progress, 1.0), 4))
                self._last_step_event = t_rate = now
                steps_since = 0
            if st.step % cfg.eval_every == 0 and stage.validation(progress):
                return STOP_EARLY
            if time.time() - last_ckpt >= cfg.checkpoint_every_s:
                self.checkpoint("periodic")
                last_ckpt = time.time()

    def _govern(self, governor: ThreadGovernor, cost: float) -> None:
        """Give the step's cost to the governor; run the next step on the thread count it says, and say so
        when the chosen count changes."""
        if governor.record(cost):
            n, other = governor.home, governor.other()
            cost_n, cost_other = governor.costs[n], governor.costs[other]
            message = (f"training on 1 thread while other programs use the CPU: a step costs {cost_n:.2f} s, "
                       f"against {cost_other:.2f} s on {other}" if n == 1 else
                       f"training on {n} threads again: a step costs {cost_n:.2f} s, against {cost_other:.2f} s on 1")
            self.log.emit("threads", step=self.state.step, threads=n, step_cost_s=round(cost_n, 4),
                          other_cost_s=round(cost_other, 4), message=message)
        if torch.get_num_threads() != governor.threads:
            torch.set_num_threads(governor.threads)

    def checkpoint(self, reason: str, final: FinalModel | None = None) -> bool:
        """Save; a failed write (a full disk) keeps the previous checkpoint, says so, and training goes on."""
        stage = self.stage
        tensors: Groups = {"model": stage.model.state_dict(), "best": stage.best_tensors(),
                           "optim": flatten_optimizer(stage.optimizer)}
        info = stage.checkpoint_info()
        self.state.stage = stage.stage_state()
        if final is not None:
            tensors.update({FINAL_PREFIX + g: ts for g, ts in final.tensors.items()})
            info = {**info, "final_doc": final.doc}
        ckpt = Checkpoint(stage.name, self.state, info, tensors, optimizer_groups(stage.optimizer))
        try:
            write_checkpoint(self.checkpoint_path, ckpt)
        except OutputError as exc:
            self.log.emit("warning", step=self.state.step, key="checkpoint",
                          message=f"checkpoint not saved: {exc}; the previous checkpoint is kept")
            return False
        self.log.emit("checkpoint", step=self.state.step, path=str(self.checkpoint_path), reason=reason)
        return True

    def _write_final(self, final: FinalModel, kept: bool, again: bool) -> Any:
        """`stage.write_model`; when it fails, one line says what was kept and what to do."""
        try:
            return self.stage.write_model(final, again)
        except OutputError as exc:
            again = ("the finished training is kept in the run folder: run the same command again to write it" if kept
                     else "run the same command again: it resumes from the last checkpoint and writes it")
            raise OutputError(f"the model could not be written ({exc.reason}); {again}", exc.path) from exc
