"""Scheduling: every account polled at once on start, then every interval from that poll,
moving to a phase of its own."""

import collections
import threading
import time

from hypothesis import given, strategies as st

from exporter.service.scheduling import (AT_PHASE_SECONDS, DRIFT_FRACTION, PollScheduler,
                                         next_run, spread)
from tests.conftest import Overlap


def test_first_poll_at_once_then_every_interval_from_it():
    """Forty accounts whose first polls a busy budget spreads over the 2 s interval (one worker,
    20 ms each): none is polled twice within an interval, none waits longer than an interval
    and its drift between two polls, and they stay spread over the interval."""
    runs = collections.defaultdict(list)
    scheduler = PollScheduler(1)
    started = time.monotonic()

    def poll(i):
        runs[i].append(time.monotonic() - started)
        time.sleep(0.02)

    for i in range(40):
        scheduler.add(f"acct{i}", lambda i=i: poll(i), 2.0, phase=spread(f"acct{i}"))
    scheduler.start()
    time.sleep(5.0)
    scheduler.shutdown()
    assert len(runs) == 40
    firsts = sorted(times[0] for times in runs.values())
    assert firsts[-1] - firsts[0] > 0.7  # paced by the single worker
    gaps = [b - a for times in runs.values() for a, b in zip(times, times[1:])]
    assert len(gaps) >= 40
    assert min(gaps) > 2.0 - 0.1 and max(gaps) < 2.0 * (1 + DRIFT_FRACTION) + 0.3
    phases = sorted(times[1] % 2.0 for times in runs.values() if len(times) > 1)
    assert phases[-1] - phases[0] > 0.7  # still spread over the interval


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
    overlap = Overlap()

    def slow_poll():
        with overlap:
            time.sleep(0.5)

    scheduler = PollScheduler(4)
    scheduler.add("a", slow_poll, 0.1)
    scheduler.start()
    time.sleep(1.2)
    scheduler.shutdown()
    assert overlap.most == 1


@given(previous=st.floats(0, 2e9), interval=st.floats(0.1, 3600), phase=st.floats(0, 1),
       runs=st.integers(1, 300))
def test_runs_are_an_interval_apart_plus_a_drift_and_reach_their_phase(
        previous, interval, phase, runs):
    at = phase * interval
    times = [previous]
    for _ in range(runs):
        times.append(next_run(times[-1], interval, at))
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(interval - 1e-6 <= gap <= interval * (1 + DRIFT_FRACTION) + 1e-6 for gap in gaps)
    if runs >= 250:  # settled: every run at its phase
        off = (times[-1] - at) % interval
        assert min(off, interval - off) <= AT_PHASE_SECONDS


def test_accounts_started_together_settle_at_an_even_rate():
    """Sixty accounts whose first polls all start at once (the bursts a big start leaves behind)
    are polled, once their runs have settled, spread over the interval: no tenth of it gets
    more than twice its share."""
    interval, runs, lock = 0.25, collections.defaultdict(list), threading.Lock()
    scheduler = PollScheduler(64)

    def poll(i):
        with lock:
            runs[i].append(time.time())

    for i in range(60):
        scheduler.add(f"acct{i}", lambda i=i: poll(i), interval, phase=spread(f"acct{i}"))
    scheduler.start()
    time.sleep(interval * 30)  # 0.9 ** 30: 4% of the way left
    scheduler.shutdown()
    first = [times[0] for times in runs.values()]  # not modulo: they may straddle a multiple
    last = [times[-1] % interval for times in runs.values()]
    assert max(first) - min(first) < interval / 10  # together at first
    per_tenth = collections.Counter(int(10 * phase / interval) for phase in last)
    assert len(per_tenth) >= 7 and max(per_tenth.values()) <= 2 * 60 / 10
