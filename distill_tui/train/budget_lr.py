"""Stage 1's peak learning rate when none is asked for: chosen from how many steps the budget allows.

Measured on pads-drums-20 (seed 2, bench/RESULTS.md, "A lower peak learning rate for long runs"): 2e-3 is
best at 5 minutes (~2,600 steps: 3.97 dB against 4.32 at 1e-3), 1e-3 at 15 minutes (~8,000 steps: 3.59
against 3.67) and at 30 minutes (~16,000 steps: 3.16 against 3.86). What matters is the number of steps,
not the minutes (a GPU takes many more steps in a minute), so the peak falls with the square root of the
expected step count: 2e-3 up to 4,000 steps, 1.41e-3 at 8,000, 1e-3 from 16,000 on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import TrainConfig
from .state import Budget, Schedule

SHORT_LR, LONG_LR = 2e-3, 1e-3
SHORT_STEPS = 4000  # up to here the short-budget peak; LONG_LR from 4x as many steps on
PACE_STEPS = 20  # a time budget's pace is judged after at least this many steps


def budget_lr(expected_steps: float) -> float:
    """The peak learning rate for a run of about `expected_steps` steps."""
    if not expected_steps > 0:
        return SHORT_LR
    return min(SHORT_LR, max(LONG_LR, SHORT_LR * math.sqrt(SHORT_STEPS / expected_steps)))


@dataclass
class BudgetSchedule(Schedule):
    """`Schedule` whose peak is `budget_lr` of the run's expected length.

    A step budget is known at once. A time budget is estimated from the pace of the warm-up (steps taken
    over the share of the budget spent) and settled when the warm-up ends; a resumed run estimates it
    again from where it is. `on_peak` hears the settled peak once.
    """

    budget: Budget = field(default_factory=lambda: Budget(0))
    on_peak: Callable[[float, float], None] | None = None  # (peak lr, expected steps)
    settled: bool = False

    def expected_steps(self, step: int, progress: float) -> float:
        if not self.budget.minutes:
            return float(self.budget.steps)
        by_time = step / progress if step > 0 and progress > 0 else float("inf")
        return min(float(self.budget.steps), by_time)

    def rate(self, step: int, progress: float, scale: float = 1.0) -> float:
        if not self.settled:
            expected = self.expected_steps(step, progress)
            self.lr = budget_lr(expected) if math.isfinite(expected) else SHORT_LR
            if step >= max(self.warmup_steps, PACE_STEPS if self.budget.minutes else 0):
                self.settled = True
                if self.on_peak is not None:
                    self.on_peak(self.lr, expected)
        return super().rate(step, progress, scale)


def schedule_for(tc: TrainConfig, on_peak: Callable[[float, float], None] | None = None) -> Schedule:
    """The schedule of `tc`: its own peak `lr`, or with `lr` None a `BudgetSchedule` over its budget."""
    if tc.lr is not None:
        return Schedule(tc.lr, tc.warmup_steps, tc.min_lr_ratio)
    return BudgetSchedule(SHORT_LR, tc.warmup_steps, tc.min_lr_ratio, budget=Budget(tc.steps, tc.minutes, tc.clock),
                          on_peak=on_peak)

