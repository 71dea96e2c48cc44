"""Worker threads: started as jobs need them, at most `size` at once, and (for poll threads)
ended once idle, without losing a job submitted while they end."""

import os
import sys
import threading
import time

import pytest

from exporter.pool import WorkerPool
from exporter.service import scheduling
from tests.conftest import Overlap, wait_for


def test_at_most_size_jobs_run_at_once_and_every_job_runs():
    pool = WorkerPool(3, "test")
    overlap, done = Overlap(), []

    def job(i):
        with overlap:
            time.sleep(0.02)
        done.append(i)

    for i in range(20):
        pool.submit(lambda i=i: job(i))
    wait_for(lambda: len(done) == 20)
    assert overlap.most == 3 and pool.threads == 3 and sorted(done) == list(range(20))
    pool.stop()


def test_idle_threads_end_and_come_back_when_needed():
    pool = WorkerPool(8, "test", idle_seconds=0.2)
    release, done = threading.Event(), []
    for _ in range(8):
        pool.submit(lambda: (release.wait(), done.append(1)))
    wait_for(lambda: pool.threads == 8)
    release.set()
    wait_for(lambda: pool.threads == 0, timeout=5)
    assert not [t for t in threading.enumerate() if t.name.startswith("test-")]
    pool.submit(lambda: done.append(1))
    wait_for(lambda: len(done) == 9)


def test_no_job_is_lost_while_threads_end():
    """Jobs submitted at the moment idle threads time out: every one runs, once."""
    pool = WorkerPool(4, "test", idle_seconds=0.001)
    done, lock = [], threading.Lock()

    def job(i):
        with lock:
            done.append(i)

    for i in range(2000):
        pool.submit(lambda i=i: job(i))
        if i % 50 == 0:
            time.sleep(0.002)  # let threads go idle and end between bursts
    wait_for(lambda: len(done) == 2000, timeout=10)
    assert sorted(done) == list(range(2000))


def test_first_poll_threads_end_once_a_start_is_over(monkeypatch):
    """A start's first polls run on up to MAX_WORKERS threads at once, which end once idle; the
    polls after them run on at most REPEAT_WORKERS."""
    monkeypatch.setattr(scheduling, "IDLE_SECONDS", 0.3)
    scheduler = scheduling.PollScheduler(64)
    first_wave, lock = threading.Barrier(40, timeout=5), threading.Lock()
    polls = []

    def poll(i):
        with lock:
            polls.append(i)
            count = len(polls)
        if count <= 40:
            first_wave.wait()  # forty first polls at once: forty threads

    for i in range(40):
        scheduler.add(f"acct{i}", lambda i=i: poll(i), 1.0)
    scheduler.start()
    try:
        wait_for(lambda: len(polls) >= 40, timeout=5)
        wait_for(lambda: not [t for t in threading.enumerate()
                              if t.name.startswith("first-poll")], timeout=5)
        wait_for(lambda: len(polls) >= 80, timeout=5)  # and the polls go on
        assert len([t for t in threading.enumerate() if t.name.startswith("poll-")]) \
            <= scheduling.REPEAT_WORKERS
    finally:
        scheduler.shutdown()


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_polls_run_below_the_web_servers_priority():
    """When polls land in a burst and the cores are short, the kernel runs a scrape's threads
    first: every poll thread (first, repeat and slow polls) is POLL_NICE nicer than the
    process, a web worker is not."""
    def nice_of_this_thread():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    process = os.getpriority(os.PRIO_PROCESS, 0)
    seen: dict[str, int] = {}
    scheduler = scheduling.PollScheduler(4)
    scheduler.add("margin", lambda: seen.setdefault("margin", nice_of_this_thread()), 60.0)
    scheduler.add("slow", lambda: seen.setdefault("slow", nice_of_this_thread()), 60.0,
                  slow=True)
    web = WorkerPool(2)
    web.submit(lambda: seen.setdefault("web", nice_of_this_thread()))
    scheduler.start()
    try:
        wait_for(lambda: len(seen) == 3, timeout=5)
    finally:
        scheduler.shutdown()
        web.stop()
    assert seen == {"margin": process + scheduling.POLL_NICE,
                    "slow": process + scheduling.POLL_NICE, "web": process}
