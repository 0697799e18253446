"""Find training run folders and say what state each is in: running, finished, stopped, crashed."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..locations import state_dir
from .events import BEGIN, TERMINAL, Event, tail_events
from .runfolder import CHECKPOINT, OLD_CHECKPOINTS, lock_holder

PID_FILE = "trainer.pid"  # written by the launcher: "<pid>\n"
LAUNCH_FILE = "launch.json"  # the command the launcher ran (resuming runs it again)
STDERR_FILE = "trainer.err"

RUNNING, STARTING, FINISHED, STOPPED, CRASHED, EMPTY = "running", "starting", "finished", "stopped", "crashed", "empty"


def runs_root() -> Path:
    """Where the TUI starts runs: `locations.state_dir()/runs` (on Linux `$XDG_STATE_HOME/distill-tui/runs`,
    default ~/.local/state/distill-tui/runs)."""
    return state_dir() / "runs"


@dataclass
class RunSummary:
    """One run folder as the runs list shows it."""

    path: Path
    state: str  # running, starting, finished, stopped, crashed, empty
    stage: str  # "model" (stage 1) or "prior"
    step: int = 0
    progress: float | None = None  # 0..1
    elapsed_s: float | None = None
    data_dir: str | None = None
    output: str | None = None  # the model file it writes (or, for a prior, the model it adds to)
    pid: int | None = None
    last_time: float | None = None
    message: str = ""  # what happened, in words (the error, the reason it stopped)
    checkpoint: Path | None = None  # the last checkpoint, when there is one
    problems: list[str] = field(default_factory=list)  # unreadable parts of the folder

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def alive(self) -> bool:
        return self.state in (RUNNING, STARTING)

    @property
    def model_ready(self) -> bool:
        return self.state == FINISHED and bool(self.output) and Path(str(self.output)).exists()


def read_pid(run_dir: Path) -> int | None:
    try:
        return int((run_dir / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def trainer_pid(run_dir: Path) -> int | None:
    """The trainer's pid: from the launcher's pid file while that process lives, else the holder of the run
    folder's lock (`runfolder.lock_holder`), else (no pid file) a matching process started from the command
    line; a dead pid file's pid when none of these."""
    pid = read_pid(run_dir)
    if pid_alive(pid):
        return pid
    holder = lock_holder(run_dir)
    if holder is not None:
        return holder
    return pid if pid is not None else find_trainer_pid(run_dir)


def signalable_pid(run_dir: Path) -> int | None:
    """The trainer a stop may signal: the launcher's pid file while that process lives, else the run folder's
    lock holder (a run started from the command line). Never the /proc argument match, which is a guess."""
    pid = read_pid(run_dir)
    return pid if pid_alive(pid) else lock_holder(run_dir)


def pid_alive(pid: int | None) -> bool:
    """The process exists and is not a zombie (a child of ours that exited but was not reaped yet)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): trust kill(0)


def find_trainer_pid(run_dir: Path, output: str | None = None) -> int | None:
    """A trainer started outside the TUI (no pid file): a live `distill… train` process whose arguments name
    this run folder, or the model file whose default run folder this is. Linux only (/proc); None elsewhere."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    target = run_dir.resolve()
    default_for = None
    if output is None and target.suffix in (".run", ".prior-run"):
        default_for = target.with_name(target.name.rsplit(".", 1)[0])
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
            if not any("distill" in a for a in args) or not any(a in ("train", "train-prior") for a in args):
                continue
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        for i, a in enumerate(args):
            if not a or a.startswith("-"):
                continue
            path = (cwd / a).resolve() if not a.startswith("/") else Path(a).resolve()
            previous = args[i - 1] if i else ""
            if path == target and previous == "--run":
                return int(entry.name)
            if default_for is not None and path == default_for and "--run" not in args:
                return int(entry.name)
            if output and path == Path(output).resolve() and previous in ("-o", "--output") and "--run" not in args:
                return int(entry.name)
    return None


def _read_json(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} is unreadable ({exc.__class__.__name__}); it was probably cut off while written")
        return {}
    if not isinstance(obj, dict):
        problems.append(f"{path.name} is not a JSON object")
        return {}
    return obj


def last_error_line(run_dir: Path) -> str:
    """The trainer's own last `error:` line on stderr (a crash before it could write an event)."""
    try:
        with (run_dir / STDERR_FILE).open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        if line.startswith("error:"):
            return line[len("error:"):].strip()
    return next((ln.strip() for ln in reversed(lines) if ln.strip()), "")


# How a stop is said: "(SIGTERM)" is what the TUI's `s` and `kill` send, a signal's name and not a musician's word.
STOPPED_BY = {"SIGINT": " by Ctrl-C", "SIGTERM": " on request"}


def stopped_in_checks(events: list[Event] | list[dict[str, Any]] | list[Any]) -> bool:
    """Whether the run's last stop came while a prior was still checking itself on held-out sounds (its start
    announced folds, and it stopped at step 0): those check runs are not kept, and a resume runs them again."""
    stop = next((e for e in reversed(events) if e.get("event") == "stopped"), None)
    return (stop is not None and stop.get("step") == 0
            and any(e.get("event") == "start" and e.get("folds") for e in events))


def state_from_events(events: list[Event] | list[dict[str, Any]], alive: bool) -> tuple[str, str]:
    """(state, message) from the tail of the log and whether the trainer process lives."""
    last_begin = max((i for i, e in enumerate(events) if e.get("event") in BEGIN), default=-1)
    last_end = max((i for i, e in enumerate(events) if e.get("event") in TERMINAL), default=-1)
    if last_end > last_begin or (last_end >= 0 and not alive):
        ev = events[last_end]
        kind = ev["event"]
        if kind == "done":
            return FINISHED, f"finished at step {ev.get('step', '?')}"
        if kind == "stopped":
            how = STOPPED_BY.get(str(ev.get("signal")), "")
            if stopped_in_checks(events):
                return STOPPED, f"stopped{how} while checking the prior on held-out sounds; resume starts the checks again"
            return STOPPED, f"stopped at step {ev.get('step', '?')}{how}; resume continues it"
        return CRASHED, str(ev.get("message", "the trainer reported an error"))
    if alive:
        return (RUNNING, "training") if events else (STARTING, "starting (reading the sounds, importing torch)")
    if not events:
        return EMPTY, "no events: the trainer never started"
    return CRASHED, f"the trainer exited without a word after step {events[-1].get('step', '?')}"


def summarize(run_dir: str | Path, tail_bytes: int = 256 << 10) -> RunSummary:
    """Read a run folder's state from its last `tail_bytes` of events, its pid file and run.json."""
    run_dir = Path(run_dir)
    problems: list[str] = []
    meta = _read_json(run_dir / "run.json", problems)
    launch = _read_json(run_dir / LAUNCH_FILE, problems)
    events = tail_events(run_dir / "events.jsonl", tail_bytes)
    pid = trainer_pid(run_dir)  # no pid file: started from the command line, look for its process
    alive = pid_alive(pid)
    state, message = state_from_events(events, alive)
    if state == CRASHED and not any(e.get("event") == "error" for e in events[-1:]):
        err = last_error_line(run_dir)
        if err:
            message = f"{message}: {err}"
    if state == EMPTY and not alive:
        err = last_error_line(run_dir)
        if err:
            state, message = CRASHED, err
    stage = "prior" if meta.get("stage") == "prior" or launch.get("stage") == "prior" else "model"
    output = meta.get("model") if stage == "prior" else meta.get("output")
    output = output or launch.get("output")
    step_ev = next((e for e in reversed(events) if "step" in e and e.get("step") is not None), {})
    prog = next((e.get("progress") for e in reversed(events) if e.get("event") == "step"), None)
    elapsed = next((e.get("elapsed_s") for e in reversed(events) if e.get("elapsed_s") is not None), None)
    ckpt = checkpoint_file(run_dir)
    if state == FINISHED:
        prog = 1.0
    return RunSummary(path=run_dir, state=state, stage=stage, step=int(step_ev.get("step") or 0),
                      progress=prog, elapsed_s=elapsed, data_dir=meta.get("data_dir") or launch.get("data_dir"),
                      output=output, pid=pid, last_time=events[-1].get("time") if events else None, message=message,
                      checkpoint=ckpt, problems=problems)


def checkpoint_file(run_dir: Path) -> Path | None:
    """The run folder's checkpoint, when there is one (an older Distill's counts: it is there, if not resumable)."""
    return next((p for p in (run_dir / n for n in (CHECKPOINT, *OLD_CHECKPOINTS)) if p.exists()), None)


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any((path / n).exists() for n in ("events.jsonl", "run.json", PID_FILE, LAUNCH_FILE))


def discover(extra: list[Path] | None = None, root: Path | None = None) -> list[RunSummary]:
    """Every run under the runs root (and the extra folders given), newest first."""
    root = root or runs_root()
    dirs: list[Path] = []
    if root.is_dir():
        dirs += [p for p in root.iterdir() if is_run_dir(p)]
    for p in extra or []:
        p = Path(p)
        if is_run_dir(p) and p.resolve() not in {d.resolve() for d in dirs}:
            dirs.append(p)
    out = [summarize(d, 32 << 10) for d in dirs]  # the last events say the state; lists refresh often
    out.sort(key=lambda r: -(r.last_time or _mtime(r.path)))
    return out


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
