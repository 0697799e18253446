"""The thread governor: which CPU thread count the training steps run on, from the costs it is given."""

from __future__ import annotations

import pytest

from distill_tui.train.governor import ThreadGovernor


def feed(gov: ThreadGovernor, cost_at: dict[int, float], steps: int) -> list[tuple[int, bool]]:
    """Run `steps` steps; each costs `cost_at[threads]`. Returns (threads, chosen changed) per step."""
    out = []
    for _ in range(steps):
        n = gov.threads
        out.append((n, gov.record(cost_at[n])))
    return out


def test_a_quiet_machine_keeps_the_configured_count_but_for_a_few_trial_steps():
    gov = ThreadGovernor(2)
    ran = feed(gov, {2: 0.113, 1: 0.150}, 2000)  # this machine's bfloat16 step, quiet (RESULTS, twelfth session)
    ones = [i for i, (n, _) in enumerate(ran) if n == 1]
    assert gov.home == 2 and not any(changed for _, changed in ran)
    assert ones[:4] == [20, 21, 22, 23]  # the first trial, after `first_trial` steps
    assert len(ones) <= 4 * 5  # trials grow rarer each time one thread loses: 100, 200, 400, 800 steps apart
    assert gov.costs == {2: pytest.approx(0.113), 1: pytest.approx(0.150)}


def test_a_stall_on_two_threads_moves_to_one_and_back_when_it_ends():
    gov = ThreadGovernor(2)
    ran = feed(gov, {2: 2.9, 1: 0.24}, 300)  # two threads stall from the start: one wins its first trial
    assert gov.home == 1 and ran[23] == (1, True) and sum(changed for _, changed in ran) == 1
    # trials of two threads stop after one stalled step (not the first step ever on that count), ever rarer
    twos_after = [n for n, _ in ran[24:]].count(2)
    assert 1 <= twos_after <= 3
    ran = feed(gov, {2: 0.113, 1: 0.150}, 1700)  # the stall is over: the next trial of two threads wins
    assert gov.home == 2 and sum(changed for _, changed in ran) == 1


def test_a_count_that_becomes_costlier_than_the_other_was_is_left_at_once():
    gov = ThreadGovernor(2)
    feed(gov, {2: 0.113, 1: 0.150}, 30)  # the first trial: one thread costs 0.150, it loses
    assert gov.home == 2 and gov.next_trial > 100
    ran = feed(gov, {2: 0.9, 1: 0.2}, 12)  # two threads turn slow long before the next trial is due
    assert gov.home == 1 and any(changed for _, changed in ran)


def test_one_slow_step_is_not_a_trend_and_one_thread_configured_leaves_no_choice():
    gov = ThreadGovernor(2)
    costs = [0.113] * 60
    costs[40] = 5.0  # a validation or a checkpoint inside a step, say
    for c in costs:
        gov.record(c if gov.threads == 2 else 0.150)
    assert gov.home == 2
    single = ThreadGovernor(1)
    assert not single.active and not single.record(10.0) and single.threads == 1
