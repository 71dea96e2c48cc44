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
