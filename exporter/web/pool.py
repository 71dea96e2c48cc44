"""A fixed-size pool of daemon worker threads, started as they are first needed."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger("exporter.web")

Job = Callable[[], None]


class WorkerPool:
    """At most `size` jobs run at once; the others wait in order. Threads are daemons: a
    request stuck in the app never holds the process at exit."""

    def __init__(self, size: int, name: str = "web-worker"):
        if size < 1:
            raise ValueError("max_requests must be at least 1")
        self.size = size
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._free = 0  # idle workers minus jobs waiting for one

    @property
    def threads(self) -> int:
        return self._threads

    def submit(self, job: Job) -> None:
        with self._lock:
            self._free -= 1
            spawn = self._free < 0 and self._threads < self.size
            if spawn:
                self._threads += 1
                self._free += 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, name=f"{self._name}-{self._threads}",
                             daemon=True).start()

    def stop(self) -> None:
        for _ in range(self._threads):
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:
                log.exception("web worker failed")
            with self._lock:
                self._free += 1
