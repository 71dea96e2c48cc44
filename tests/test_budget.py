"""The shared per-IP budget: never more than `limit` requests in any window."""

import threading

import pytest

from exporter.budget import BudgetClosed, RequestBudget


class SteppingClock:
    """Time that moves only when the budget would sleep."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_never_more_than_the_limit_in_any_window():
    clock = SteppingClock()
    budget = RequestBudget(limit=400, window=5.0, clock=clock)
    budget._closed.wait = lambda seconds: (setattr(clock, "now", clock.now + seconds), False)[1]
    stamps = []
    for _ in range(1000):
        budget.acquire()
        stamps.append(clock.now)
    for i, start in enumerate(stamps):
        in_window = [s for s in stamps[i:] if s - start < 5.0]
        assert len(in_window) <= 400
    assert stamps[399] == 0.0 and stamps[400] == pytest.approx(5.0)


def test_close_wakes_waiters():
    budget = RequestBudget(limit=1, window=60.0)
    budget.acquire()
    errors = []

    def waiter():
        try:
            budget.acquire()
        except BudgetClosed:
            errors.append("closed")

    thread = threading.Thread(target=waiter)
    thread.start()
    budget.close()
    thread.join(2)
    assert errors == ["closed"]
