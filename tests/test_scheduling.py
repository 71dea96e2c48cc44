"""Scheduling: every account polled at once on start, then spread over the interval."""

import collections
import random
import threading
import time

from exporter.service.scheduling import PollScheduler


def test_first_poll_at_once_then_spread_over_the_interval():
    runs = collections.defaultdict(list)
    scheduler = PollScheduler(8, rng=random.Random(1))
    started = time.monotonic()
    for i in range(40):
        scheduler.add(f"acct{i}", lambda i=i: runs[i].append(time.monotonic() - started), 2.0)
    scheduler.start()
    time.sleep(4.5)
    scheduler.shutdown()
    assert len(runs) == 40
    assert all(times[0] < 0.5 for times in runs.values())
    # after the first poll, each account keeps its own phase within the 2 s interval
    phases = sorted(times[1] % 2.0 for times in runs.values() if len(times) > 1)
    assert len(phases) >= 30
    assert phases[-1] - phases[0] > 1.2
    assert max(len(times) for times in runs.values()) <= 4


def test_remove_stops_an_account():
    runs = []
    scheduler = PollScheduler(2)
    scheduler.add("a", lambda: runs.append(1), 0.2)
    scheduler.start()
    time.sleep(0.5)
    scheduler.remove("a")
    assert scheduler.job_ids() == set()
    count = len(runs)
    time.sleep(0.5)
    scheduler.shutdown()
    assert len(runs) == count


def test_a_slow_poll_is_not_run_twice_at_once():
    active, most = [0], [0]
    lock = threading.Lock()

    def slow_poll():
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.5)
        with lock:
            active[0] -= 1

    scheduler = PollScheduler(4)
    scheduler.add("a", slow_poll, 0.1)
    scheduler.start()
    time.sleep(1.2)
    scheduler.shutdown()
    assert most[0] == 1
