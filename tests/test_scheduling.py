"""Scheduling: every account polled at once on start, then every interval from that poll."""

import collections
import threading
import time

from exporter.service.scheduling import PollScheduler


def test_first_poll_at_once_then_every_interval_from_it():
    """Forty accounts whose first polls a busy budget spreads over the 2 s interval (one worker,
    50 ms each): each keeps the phase its first poll had, none is polled twice within the first
    interval, and none waits longer than an interval (and its jitter) between two polls."""
    runs = collections.defaultdict(list)
    scheduler = PollScheduler(1)
    started = time.monotonic()

    def poll(i):
        runs[i].append(time.monotonic() - started)
        time.sleep(0.05)

    for i in range(40):
        scheduler.add(f"acct{i}", lambda i=i: poll(i), 2.0)
    scheduler.start()
    time.sleep(5.0)
    scheduler.shutdown()
    assert len(runs) == 40
    firsts = sorted(times[0] for times in runs.values())
    assert firsts[-1] - firsts[0] > 1.5  # paced by the single worker
    gaps = [b - a for times in runs.values() for a, b in zip(times, times[1:])]
    assert len(gaps) >= 40
    assert min(gaps) > 2.0 * 0.9 - 0.1 and max(gaps) < 2.0 * 1.1 + 0.3
    phases = sorted(times[1] % 2.0 for times in runs.values() if len(times) > 1)
    assert phases[-1] - phases[0] > 1.2  # still spread over the interval


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
