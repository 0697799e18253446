"""What both training stages share besides the loop: the trainer's state, the budget, the learning rate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import BadInputError

STOP_BUDGET, STOP_EARLY, STOP_SIGNAL = "budget", "early-stop", "signal"  # why a run ended, the same words for both stages


@dataclass
class TrainerState:
    """The loop's own state, saved in every checkpoint. The stage's own values live in `stage`.

    `best` is the stage's best validation (dB for stage 1, perplexity for the prior); None before any.
    """

    step: int = 0
    elapsed_s: float = 0.0  # training seconds on the budget's clock, summed over every resume
    lr_scale: float = 1.0  # stage 1 halves it after a rollback
    best: float | None = None
    evals_since_best: int = 0
    finished: bool = False  # the model was finished; the checkpoint holds it (see `FINAL_GROUP`)
    stopped_by: str | None = None  # once finished: budget, early-stop
    data_dir: str = ""
    stage: dict[str, Any] = field(default_factory=dict)

    @property
    def best_or_inf(self) -> float:
        return math.inf if self.best is None else self.best

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> TrainerState:
        """Unknown keys are ignored, missing ones take their defaults; wrong types are refused."""
        if not isinstance(doc, dict):
            raise ValueError("the trainer state is not a JSON object")
        names = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in doc.items() if k in names})
        state.step, state.elapsed_s, state.lr_scale = int(state.step), float(state.elapsed_s), float(state.lr_scale)
        state.evals_since_best = int(state.evals_since_best)
        state.best = None if state.best is None else float(state.best)
        if not isinstance(state.stage, dict):
            raise ValueError("the trainer state's stage part is not a JSON object")
        return state


def make_clock(kind: str) -> Callable[[], float]:
    """A clock whose differences are a run's time. "wall": seconds on the wall clock. "cpu": this process's CPU
    seconds, each interval divided by torch's thread count at the end of it (the count can change between
    steps, `governor.py`), i.e. wall time on an otherwise idle machine; it makes budgets comparable on a shared
    one. It starts at 0."""
    if kind == "wall":
        return time.time
    if kind == "cpu":
        import torch

        last, total = time.process_time(), 0.0

        def cpu_clock() -> float:
            nonlocal last, total
            now = time.process_time()
            total += (now - last) / max(torch.get_num_threads(), 1)
            last = now
            return total

        return cpu_clock
    raise BadInputError(f"unknown clock {kind!r} (wall or cpu)")


@dataclass
class Budget:
    """How long a run may train: `steps`, and `minutes` on `clock` when given; the first one reached ends it."""

    steps: int
    minutes: float | None = None
    clock: str = "wall"

    def progress(self, step: int, elapsed_s: float) -> float:
        """0 at the start, 1 (or more) when the budget is spent."""
        p = step / max(self.steps, 1)
        if self.minutes:
            p = max(p, elapsed_s / (self.minutes * 60))
        return p


@dataclass
class Schedule:
    """Linear warm-up over `warmup_steps`, then cosine decay to `min_lr_ratio` of `lr` as progress reaches 1."""

    lr: float
    warmup_steps: int
    min_lr_ratio: float

    def factor(self, step: int, progress: float) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    def rate(self, step: int, progress: float, scale: float = 1.0) -> float:
        return self.lr * scale * self.factor(step, progress)


def pick_device(name: str) -> str:
    """`auto` picks CUDA, then MPS, then CPU; a device asked for by name must be there."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps and mps.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise BadInputError("--device cuda asked for, but no CUDA device is available")
    if name == "mps" and not (mps and mps.is_available()):
        raise BadInputError("--device mps asked for, but MPS is not available")
    if name not in {"cpu", "cuda", "mps"}:
        raise BadInputError(f"unknown device {name!r} (auto, cpu, cuda, mps)")
    return name


BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # x86 instructions that compute bfloat16 natively


def cpu_has_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU computes bfloat16 natively: an x86 `flags` line with AVX512-BF16 or AMX-BF16. Read from
    Linux's /proc/cpuinfo; anywhere else (no such file), False."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(BF16_CPU_FLAGS & set(line.partition(":")[2].split()))
    return False


def pick_precision(name: str, device: str) -> str:
    """`auto`: bfloat16 on a CPU that computes it natively (a stage-1 step costs about 0.7x the CPU time there,
    so a time budget reaches more steps), else float32: CUDA and MPS are not measured yet, and on a CPU
    without it bfloat16 is emulated. A precision asked for by name is kept."""
    if name != "auto":
        return name
    return "bfloat16" if device == "cpu" and cpu_has_bfloat16() else "float32"


@dataclass
class LoopConfig:
    """What the loop needs from a stage's training config."""

    budget: Budget
    schedule: Schedule
    eval_every: int
    checkpoint_every_s: float
