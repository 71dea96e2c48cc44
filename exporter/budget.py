"""The per-IP request budget shared by every account of one exporter."""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

# Bybit bans an IP for at least 10 minutes past 600 requests in 5 s; keep a wide margin.
MAX_REQUESTS = 400
WINDOW_SECONDS = 5.0


class BudgetClosed(Exception):
    """The exporter is stopping: no more requests."""


class RequestBudget:
    """Blocks callers so that no sliding window of `window` seconds holds more than `limit`."""

    def __init__(self, limit: int = MAX_REQUESTS, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def acquire(self) -> None:
        while True:
            wait = self._try_acquire()
            if wait is None:
                return
            if self._closed.wait(wait):
                raise BudgetClosed()

    def _try_acquire(self) -> float | None:
        with self._lock:
            if self._closed.is_set():
                raise BudgetClosed()
            now = self._clock()
            while self._sent and now - self._sent[0] >= self.window:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return None
            return max(self.window - (now - self._sent[0]), 0.001)

    def close(self) -> None:
        self._closed.set()
