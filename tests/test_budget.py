"""The shared per-IP budget: never more than `limit` requests in any window, as the server
counts them, however long each request takes."""

import random
import threading
import time

from exporter.bybit.budget import BudgetClosed, RequestBudget


def most_in_window(times, window):
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_never_more_than_the_limit_in_any_window_wherever_the_server_sees_the_request():
    budget = RequestBudget(limit=8, window=0.4)
    seen_by_server, rng, lock = [], random.Random(7), threading.Lock()

    def worker():
        for _ in range(6):
            with budget.slot():
                delay_out, delay_back = rng.uniform(0, 0.05), rng.uniform(0, 0.05)
                time.sleep(delay_out)
                with lock:
                    seen_by_server.append(time.monotonic())
                time.sleep(delay_back)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen_by_server) == 36
    assert most_in_window(seen_by_server, 0.4) <= 8
    assert time.monotonic() - started >= 4 * 0.4  # 36 requests need at least 4 more windows


def test_close_wakes_waiters():
    budget = RequestBudget(limit=1, window=60.0)
    with budget.slot():
        pass
    errors = []

    def waiter():
        try:
            with budget.slot():
                pass
        except BudgetClosed:
            errors.append("closed")

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.05)
    budget.close()
    thread.join(2)
    assert errors == ["closed"]


def test_margin_data_is_served_first_and_the_slow_collectors_keep_off_its_reserve():
    """A short budget, a queue of slow requests and margin requests arriving behind them: every
    margin request gets a slot before any slow one that was waiting, and the slow ones never
    take the reserved slots."""
    budget = RequestBudget(limit=4, window=0.3)
    budget.reserve = 2
    order, lock = [], threading.Lock()

    def request(kind: str, priority: bool):
        with budget.slot(priority):
            with lock:
                order.append(kind)

    with budget.slot(priority=True), budget.slot(priority=True):
        slow = [threading.Thread(target=request, args=("slow", False)) for _ in range(3)]
        for thread in slow:
            thread.start()
        time.sleep(0.05)
        assert order == []  # two slots free, but they are margin data's reserve
        margin = [threading.Thread(target=request, args=("margin", True)) for _ in range(3)]
        for thread in margin:
            thread.start()
        time.sleep(0.05)
    for thread in slow + margin:
        thread.join(5)
    assert order[:3] == ["margin"] * 3 and sorted(order[3:]) == ["slow"] * 3
