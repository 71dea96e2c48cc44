"""APScheduler jobs: one per account and collector, first run at once, then every interval from
that first run, moving to a phase of its own within the interval."""

from __future__ import annotations

import logging
import threading
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger

from exporter.pool import WorkerPool

log = logging.getLogger("exporter.scheduling")

MAX_WORKERS = 128  # first margin polls (wallet, positions): 120 accounts' in one wave on start
# Margin polls after their first: once spread over the interval, the budget's 80 requests a
# second keep at most 80 x latency threads busy (24 at 300 ms).
REPEAT_WORKERS = 32
SLOW_WORKERS = 8  # every other collector: never holds a thread margin data could use
IDLE_SECONDS = 10.0  # a poll thread idle that long ends: a start's first-poll threads go
# Poll threads run at this much lower a CPU priority than the web server's: when polls land in
# a burst and the cores are short, the kernel runs a scrape's threads first (p95 of 200 scrapes
# at 170k samples and 30 s polls, 6.8 -> 5.1 ms; the slowest 20.7 -> 10.9 ms).
POLL_NICE = 5
# A run comes up to this share of the interval late, moving towards its phase.
DRIFT_FRACTION = 0.1
AT_PHASE_SECONDS = 0.001  # a run this close before its phase is at it (times are rounded to 1 µs)
FIRST_SUFFIX = "#first"


def spread(key: str) -> float:
    """A phase in [0, 1) for `key` (an account name): keys spread evenly over the interval."""
    return zlib.crc32(key.encode()) / 2**32


def next_run(previous: float, interval: float, phase: float) -> float:
    """One interval after `previous`, plus DRIFT_FRACTION of the time from there to `phase`
    (seconds into the interval, counted from the Unix epoch). Jobs whose first polls started
    together (in the request budget's bursts of 400 on a big start) move apart, each by its
    own share, and settle at phases spread over the interval: polls, and the work of each
    landed poll, come at an even rate. Runs are never less than an interval apart (the budget
    never has more to serve than the plan says) and never more than an interval and its
    DRIFT_FRACTION."""
    ahead = (phase - previous) % interval
    if ahead > interval - AT_PHASE_SECONDS:
        ahead = 0.0
    return previous + interval + DRIFT_FRACTION * ahead


class SpreadTrigger(BaseTrigger):  # type: ignore[misc]  # apscheduler has no type hints
    """Fires at next_run() from the first poll's start, then from each previous fire time."""

    __slots__ = ("interval", "phase", "first")

    def __init__(self, interval: float, phase: float, first: datetime):
        self.interval, self.phase, self.first = interval, phase, first

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime:
        base = (previous_fire_time or self.first).timestamp()
        return datetime.fromtimestamp(next_run(base, self.interval, self.phase), timezone.utc)


class _Threads(BaseExecutor):  # type: ignore[misc]  # apscheduler has no type hints
    """APScheduler's jobs on up to `size` threads, started as jobs need them and ended once
    idle IDLE_SECONDS (APScheduler's own pools keep every thread they start)."""

    def __init__(self, size: int, name: str):
        super().__init__()
        self._pool = WorkerPool(size, name, IDLE_SECONDS, POLL_NICE)

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def run() -> None:
            try:
                events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
            except BaseException as exc:  # handed to APScheduler, which logs it
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, events)

        self._pool.submit(run)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.stop()


class PollScheduler:
    def __init__(self, workers: int):
        """`workers`: threads for first margin polls; later margin polls get up to
        REPEAT_WORKERS of their own, the slow collectors SLOW_WORKERS."""
        self._jobs: dict[str, object] = {}  # wanted jobs, each with the token of its add()
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(
            executors={"first": _Threads(workers, "first-poll"),
                       "default": _Threads(min(workers, REPEAT_WORKERS), "poll"),
                       "slow": _Threads(SLOW_WORKERS, "slow-poll")},
            # max_instances 2: overlap is refused by our guard, which logs at debug level, not
            # by APScheduler, which would warn at every interval while Bybit hangs.
            job_defaults={"coalesce": True, "max_instances": 2, "misfire_grace_time": None},
            timezone=timezone.utc,
        )

    def start(self) -> None:
        self._scheduler.start()

    def add(self, job_id: str, poll: Callable[[], None], interval: float,
            slow: bool = False, phase: float = 0.0) -> None:
        """Run `poll` now, then every `interval` seconds from the moment that first poll
        started, each run a little late until the runs fall at `phase` (a share of the
        interval), as next_run() says. No account is polled twice in an interval (on a start
        with hundreds of accounts the request budget serves the first polls over it), and the
        polls of many accounts end up at an even rate, not in the bursts of the first one.

        A guard makes a run that finds the previous one still going (a poll slower than its
        interval) skip quietly."""
        guarded = _skip_if_running(job_id, poll)
        executor, first_executor = ("slow", "slow") if slow else ("default", "first")
        token = object()
        with self._lock:
            self._jobs[job_id] = token

        def first() -> None:
            started = datetime.now(timezone.utc)
            trigger = SpreadTrigger(interval, phase * interval, started)
            with self._lock:  # unless removed (or added anew) meanwhile
                if self._jobs.get(job_id) is token:
                    self._scheduler.add_job(guarded, trigger, id=job_id, name=job_id,
                                            replace_existing=True, executor=executor)
            guarded()

        self._scheduler.add_job(first, DateTrigger(datetime.now(timezone.utc), timezone.utc),
                                id=job_id + FIRST_SUFFIX, name=job_id + FIRST_SUFFIX,
                                replace_existing=True, executor=first_executor)

    def once(self, job_id: str, run: Callable[[], None], delay: float) -> None:
        """Run `run` once, `delay` seconds from now, on the slow collectors' threads."""
        at = datetime.now(timezone.utc) + timedelta(seconds=delay)
        self._scheduler.add_job(run, DateTrigger(at, timezone.utc), id=job_id, name=job_id,
                                replace_existing=True, executor="slow")

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
            for job in (job_id, job_id + FIRST_SUFFIX):
                if self._scheduler.get_job(job):
                    self._scheduler.remove_job(job)

    def job_ids(self) -> set[str]:
        with self._lock:
            return set(self._jobs)

    def next_runs(self) -> dict[str, float]:
        """job id -> Unix time of its next run (the sooner of its two jobs); read only."""
        runs: dict[str, float] = {}
        for job in self._scheduler.get_jobs():
            when = getattr(job, "next_run_time", None)
            if when is None:  # paused, or the scheduler not started yet
                continue
            job_id = job.id.removesuffix(FIRST_SUFFIX)
            at = when.timestamp()
            runs[job_id] = min(at, runs.get(job_id, at))
        return runs

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)


def _skip_if_running(job_id: str, poll: Callable[[], None]) -> Callable[[], None]:
    running = threading.Lock()

    def guarded() -> None:
        if not running.acquire(blocking=False):
            log.debug("poll skipped: the previous one is still running",
                      extra={"fields": {"account": job_id}})
            return
        try:
            poll()
        finally:
            running.release()

    return guarded
