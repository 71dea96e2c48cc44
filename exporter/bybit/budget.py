"""The per-IP request budget shared by every account of one exporter."""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Callable, Iterator

# Bybit bans an IP for at least 10 minutes past 600 requests in 5 s; keep a wide margin.
MAX_REQUESTS = 400
WINDOW_SECONDS = 5.0


class BudgetClosed(Exception):
    """The exporter is stopping: no more requests."""


class RequestBudget:
    """At most `limit` requests in any `window` seconds, as Bybit counts them.

    A slot is held while its request is in flight and for `window` seconds after it finished.
    Bybit sees a request some time between our send and our receipt, so two requests that reuse
    one slot always reach Bybit more than `window` apart, however the network delays them.
    """

    def __init__(self, limit: int = MAX_REQUESTS, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._in_flight = 0
        self._finished: collections.deque[float] = collections.deque()
        self._closed = False
        self._cond = threading.Condition()
        self._priority_waiting = 0
        self.reserve = 0  # slots only priority requests may take (set from the plan)

    @contextlib.contextmanager
    def slot(self, priority: bool = False) -> Iterator[None]:
        """A request's slot. Margin data asks with `priority`: while a priority request
        waits, no other gets a slot, and the others never take the last `reserve` slots."""
        self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, priority: bool) -> None:
        with self._cond:
            self._priority_waiting += priority
            try:
                while not self._take(priority):
                    now = self._clock()
                    wait = self.window - (now - self._finished[0]) if self._finished else None
                    self._cond.wait(wait)
            finally:
                self._priority_waiting -= priority

    def _take(self, priority: bool) -> bool:
        if self._closed:
            raise BudgetClosed()
        now = self._clock()
        while self._finished and now - self._finished[0] >= self.window:
            self._finished.popleft()
        room = self.limit if priority else self.limit - self.reserve
        if self._in_flight + len(self._finished) >= room or \
                (not priority and self._priority_waiting):
            return False
        self._in_flight += 1
        return True

    def _release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._finished.append(self._clock())
            self._cond.notify_all()

    def in_use(self) -> int:
        """Slots held now: requests in flight or finished within the window (read only)."""
        with self._cond:
            now = self._clock()
            return self._in_flight + sum(1 for t in self._finished if now - t < self.window)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
