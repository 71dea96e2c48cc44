"""A pool of daemon worker threads, started as they are first needed, and (with `idle_seconds`)
ended once idle that long; (with `nice`) at a lower CPU priority than the rest of the process."""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable

log = logging.getLogger("exporter.pool")

Job = Callable[[], None]


class WorkerPool:
    """At most `size` jobs run at once; the others wait in order. Threads are daemons: a job
    stuck in the app never holds the process at exit. A thread idle for `idle_seconds` ends,
    and gives back its memory (tens of KB: its stack, its interpreter state). With `nice`, each
    thread runs at that much lower a priority (Linux keeps one per thread; elsewhere, none)."""

    def __init__(self, size: int, name: str = "web-worker", idle_seconds: float | None = None,
                 nice: int = 0):
        if size < 1:
            raise ValueError("max_requests must be at least 1")
        self.size = size
        self._name = name
        self._idle_seconds = idle_seconds
        self._nice = nice
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._free = 0  # idle workers minus jobs waiting for one
        self._started = 0

    @property
    def threads(self) -> int:
        return self._threads

    def submit(self, job: Job) -> None:
        with self._lock:
            self._free -= 1
            spawn = self._free < 0 and self._threads < self.size
            if spawn:
                self._threads += 1
                self._started += 1
                self._free += 1
                name = f"{self._name}-{self._started}"
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def stop(self) -> None:
        for _ in range(self._threads):
            self._jobs.put(None)

    def _work(self) -> None:
        if self._nice:
            lower_priority(self._nice)
        while (job := self._next()) is not None:
            try:
                job()
            except Exception:
                log.exception("worker job failed")
            with self._lock:
                self._free += 1

    def _next(self) -> Job | None:
        """The next job; None to end the thread (stopped, or idle too long while the other
        idle workers are enough for every job waiting)."""
        while True:
            try:
                return self._jobs.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._free >= 1:
                        self._free -= 1
                        self._threads -= 1
                        return None


def lower_priority(nice: int) -> None:
    """This thread's nice value raised by `nice` (Linux: a thread's own; raising it needs no
    privilege). Elsewhere the call would change the whole process: left alone."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except OSError as exc:
        log.debug("thread priority left as it is", extra={"fields": {"error": str(exc)}})
