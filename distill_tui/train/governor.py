"""How many CPU threads a training step runs on: the configured count, or one while that is cheaper.

Why it exists: on a busy 2-core machine (two other programs computing), oneDNN's bfloat16 convolution
backward waits for its second thread in a barrier that spins, and when that thread is not on a core the
step takes about 3 s instead of 0.3 s, in episodes of a few seconds to minutes; one thread has no such
wait and takes 0.24 s (bench/RESULTS.md, "Twelfth session"). The governor measures what a step costs
on the budget's clock at each count and keeps the cheaper: it starts on the configured count, tries one
thread for a few steps now and then (more rarely each time one thread loses), and switches at once when
the count it has left was measured cheaper than the current one has become. On a quiet machine the
configured count wins every trial, so a run is what it was, but for the few trial steps.

It is plain arithmetic on the costs it is given (no torch, no clock): the runner measures each step and
sets torch's thread count to `threads`.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field


@dataclass
class ThreadGovernor:
    """Chooses between `most` threads (the configured count) and one, by the measured cost of a step.

    Feed it each step's cost with `record`; read `threads` before the next step. A trial runs the other
    count for `trial_steps` steps, or stops after one step that costs over `abort_ratio` times what the
    current count costs. The count tried is kept when it is at least `margin` times cheaper; trials come
    every `interval` steps, the interval doubling (up to `max_interval`) after each trial that loses.
    """

    most: int
    first_trial: int = 20  # steps before the first trial (the first steps carry one-off costs)
    trial_steps: int = 4
    interval: int = 100
    max_interval: int = 1600
    margin: float = 1.2  # a close call would make a seeded run depend on the machine's load
    abort_ratio: float = 3.0
    window: int = 5  # the current count's cost: the median of its last `window` steps
    threads: int = field(init=False)
    home: int = field(init=False)  # the count chosen; `threads` differs from it during a trial
    costs: dict[int, float] = field(init=False, default_factory=dict)  # the latest measured cost per count
    steps: int = field(init=False, default=0)
    next_trial: int = field(init=False)
    _gap: int = field(init=False)
    _recent: deque[float] = field(init=False)
    _trial: list[float] = field(init=False, default_factory=list)
    _tried: set[int] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.most = max(int(self.most), 1)
        self.threads = self.home = self.most
        self.next_trial = self.first_trial
        self._gap = self.interval
        self._recent = deque(maxlen=self.window)

    @property
    def active(self) -> bool:
        """Whether there is a choice: one thread configured leaves none."""
        return self.most > 1

    @property
    def trying(self) -> bool:
        return self.threads != self.home

    def other(self) -> int:
        return 1 if self.home == self.most else self.most

    def record(self, cost: float) -> bool:
        """One step's cost (seconds on the budget's clock) at `threads`. True when the chosen count (`home`)
        changed with this step."""
        if not self.active:
            return False
        self.steps += 1
        if self.trying:
            return self._record_trial(cost)
        self._recent.append(cost)
        if len(self._recent) < self.window:
            return False
        current = statistics.median(self._recent)
        self.costs[self.home] = current
        known = self.costs.get(self.other())
        if self.steps >= self.next_trial or (known is not None and known * self.margin < current):
            self.threads, self._trial = self.other(), []
        return False

    def _record_trial(self, cost: float) -> bool:
        self._trial.append(cost)
        home_cost = self.costs[self.home]
        cold = self.threads not in self._tried and len(self._trial) == 1  # a first step may build its kernels
        stalled = not cold and cost > self.abort_ratio * home_cost
        if not stalled and len(self._trial) < self.trial_steps:
            return False
        self._tried.add(self.threads)
        tried = statistics.median(self._trial)
        self.costs[self.threads] = tried
        won = tried * self.margin < home_cost
        if won:
            self.home, self._gap = self.threads, self.interval
        else:
            self.threads, self._gap = self.home, min(self._gap * 2, self.max_interval)
        self.next_trial = self.steps + self._gap
        self._recent.clear()
        return won
