"""APScheduler jobs: one per account, first run at once, then every poll_interval with jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

MAX_WORKERS = 32
JITTER_FRACTION = 0.1


def worker_count(accounts: int) -> int:
    return max(2, min(MAX_WORKERS, accounts))


class PollScheduler:
    def __init__(self, workers: int, rng: random.Random | None = None):
        self._rng = rng or random.Random()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone.utc,
        )

    def start(self) -> None:
        self._scheduler.start()

    def add(self, job_id: str, poll: Callable[[], None], interval: float) -> None:
        """Run `poll` now, then every `interval` seconds from a random phase, so that hundreds
        of accounts spread over the interval instead of firing in the same second."""
        now = datetime.now(timezone.utc)
        phase = timedelta(seconds=self._rng.uniform(0, interval))
        trigger = IntervalTrigger(seconds=interval, start_date=now + phase,
                                  jitter=interval * JITTER_FRACTION, timezone=timezone.utc)
        self._scheduler.add_job(poll, trigger, id=job_id, name=job_id, next_run_time=now,
                                replace_existing=True)

    def remove(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id):
            self._scheduler.remove_job(job_id)

    def job_ids(self) -> set[str]:
        return {job.id for job in self._scheduler.get_jobs()}

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
