"""Start `distill-tui train` (or `train-prior`) as a detached process that outlives the TUI; stop it with SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import BadInputError, OutputError
from ..threads import child_environment
from .runs import LAUNCH_FILE, PID_FILE, STDERR_FILE, pid_alive, read_pid, runs_root, signalable_pid

STDOUT_FILE = "trainer.out"


@dataclass
class TrainSpec:
    """What the train screen asks for; `None` leaves the trainer's dataset-adaptive default."""

    data_dir: Path
    output: Path
    run_dir: Path
    steps: int | None = None
    minutes: float | None = None
    device: str | None = None
    levels: int | None = None
    codebook_size: int | None = None
    stride: int | None = None
    config: Path | None = None
    seed: int | None = None

    def args(self) -> list[str]:
        """The `distill-tui` arguments (after the program name)."""
        a = ["train", _abs(self.data_dir), "-o", _abs(self.output), "--run", _abs(self.run_dir), "--quiet"]
        for flag, value in (("--steps", self.steps), ("--minutes", self.minutes), ("--device", self.device),
                            ("--levels", self.levels), ("--codebook-size", self.codebook_size),
                            ("--stride", self.stride), ("--config", self.config and _abs(self.config)),
                            ("--seed", self.seed)):
            if value is not None:
                a += [flag, str(value)]
        return a


@dataclass
class PriorSpec:
    """Stage 2 on a finished model: `distill-tui train-prior MODEL [DATA_DIR] --run DIR`."""

    model: Path
    run_dir: Path
    data_dir: Path | None = None
    steps: int | None = None
    minutes: float | None = None
    replace: bool = False  # the model has a prior and the person chose to replace it (--force)

    def args(self) -> list[str]:
        a = ["train-prior", _abs(self.model)] + ([_abs(self.data_dir)] if self.data_dir else [])
        a += ["--run", _abs(self.run_dir), "--quiet"] + (["--force"] if self.replace else [])
        if self.steps is not None:
            a += ["--steps", str(self.steps)]
        if self.minutes is not None:
            a += ["--minutes", str(self.minutes)]
        return a


def _abs(path: Path | str) -> str:
    return str(Path(path).expanduser().resolve())


@dataclass
class Launched:
    """A started trainer: its pid, run folder, and the Popen (only in the process that started it)."""

    pid: int
    run_dir: Path
    process: subprocess.Popen | None = None


def new_run_dir(name: str, root: Path | None = None) -> Path:
    """A fresh folder under the runs root: `<name>-<YYYYmmdd-HHMMSS>`."""
    root = root or runs_root()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{name}-{stamp}-{n}"
    return path


def launch(spec: TrainSpec | PriorSpec, env: dict[str, str] | None = None) -> Launched:
    """Start the trainer detached (its own session: a closed TUI or a dropped SSH connection leaves it running)."""
    run_dir = Path(spec.run_dir)
    if pid_alive(read_pid(run_dir)):
        raise BadInputError("a trainer is already running in this run folder", run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        record = {"args": spec.args(), "stage": "prior" if isinstance(spec, PriorSpec) else "model",
                  "spec": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(spec).items()},
                  "output": str(spec.model if isinstance(spec, PriorSpec) else spec.output),
                  "data_dir": str(spec.data_dir) if spec.data_dir else None, "time": time.time()}
        (run_dir / LAUNCH_FILE).write_text(json.dumps(record, indent=1))
    except OSError as exc:
        raise OutputError(f"cannot write the run folder ({exc.strerror})", run_dir) from exc
    return _start(run_dir, record["args"], env)


def resume(run_dir: str | Path, env: dict[str, str] | None = None) -> Launched:
    """Run the recorded command again: the trainer resumes from its checkpoint."""
    run_dir = Path(run_dir)
    if pid_alive(read_pid(run_dir)):
        raise BadInputError("the trainer is still running (or still saving after a stop): wait until it exits", run_dir)
    try:
        args = json.loads((run_dir / LAUNCH_FILE).read_text())["args"]
    except (OSError, ValueError, KeyError, TypeError):
        args = _args_from_run_json(run_dir)
    return _start(run_dir, list(args), env)


def _args_from_run_json(run_dir: Path) -> list[str]:
    """A run started outside the TUI: rebuild its command from run.json (the trainer's own record)."""
    try:
        meta = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise BadInputError("this run folder has no readable launch.json or run.json to resume from", run_dir) from exc
    if meta.get("stage") == "prior":
        return ["train-prior", meta["model"], meta.get("data_dir") or "", "--run", str(run_dir), "--quiet"]
    return ["train", meta["data_dir"], "-o", meta["output"], "--run", str(run_dir), "--quiet"]


def _start(run_dir: Path, args: list[str], env: dict[str, str] | None) -> Launched:
    cmd = [sys.executable, "-m", "distill_tui.cli", *[a for a in args if a != ""]]
    full_env = {**child_environment(), **(env or {}), "PYTHONUNBUFFERED": "1"}
    try:
        out = (run_dir / STDOUT_FILE).open("ab")
        err = (run_dir / STDERR_FILE).open("ab")
    except OSError as exc:
        raise OutputError(f"cannot write the run folder ({exc.strerror})", run_dir) from exc
    with out, err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
                                env=full_env)
    (run_dir / PID_FILE).write_text(f"{proc.pid}\n")
    return Launched(proc.pid, run_dir, proc)


def stop(run_dir: str | Path) -> bool:
    """Ask the trainer to save and exit (SIGTERM); False when no trainer runs there.

    The trainer is the one the launcher started (`trainer.pid`), or, for a run started from the command
    line, the process holding the run folder's lock (`runs.signalable_pid`)."""
    pid = signalable_pid(Path(run_dir))
    if not pid_alive(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)  # type: ignore[arg-type]
    except ProcessLookupError:
        return False
    return True
