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
    """A short budget (4 per window, 2 reserved for margin data): slow requests hold at most
    2 slots, so margin requests arriving behind them get a slot at once; a margin request that
    must wait for the window is served before every slow one that waited longer."""
    budget = RequestBudget(limit=4, window=0.4)
    budget.reserve = 2
    order, lock = [], threading.Lock()

    def request(kind: str, priority: bool):
        with budget.slot(priority):
            with lock:
                order.append(kind)

    def start(kind: str, count: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=request, args=(kind, kind == "margin"))
                   for _ in range(count)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
        return threads

    threads = start("slow", 3)
    assert order == ["slow", "slow"]  # the third waits: the other two slots are reserved
    threads += start("margin", 3)
    assert order == ["slow", "slow", "margin", "margin"]  # at once, behind no slow request
    for thread in threads:
        thread.join(5)
    assert order[4:] == ["margin", "slow"]


def test_when_margin_data_alone_exceeds_the_budget_the_others_keep_their_floor():
    budget = RequestBudget(limit=5, window=0.3)
    budget.reserve, budget.floor = 4, 1
    taken, lock = [], threading.Lock()

    def request(kind: str):
        with budget.slot(kind == "margin"):
            with lock:
                taken.append((kind, time.monotonic()))

    threads = [threading.Thread(target=request, args=("margin",)) for _ in range(12)]
    threads += [threading.Thread(target=request, args=("slow",)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    first = taken[0][1]
    windows = [[kind for kind, at in taken if w * 0.3 <= at - first < (w + 1) * 0.3]
               for w in range(3)]
    assert all(window.count("slow") == 1 and window.count("margin") == 4 for window in windows)
