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
        self._slow: collections.deque[float | None] = collections.deque()  # None: in flight
        # Set from the plan: the slots only margin data may take, and the slots the others
        # keep even while margin data waits (0 when margin data fits the budget).
        self.reserve = 0
        self.floor = 0

    @contextlib.contextmanager
    def slot(self, priority: bool = False) -> Iterator[None]:
        """A request's slot. Margin data asks with `priority`: the others never hold more than
        `limit - reserve` slots, and while a priority request waits they get one only within
        their `floor`, which margin data leaves them."""
        self._acquire(priority)
        try:
            yield
        finally:
            self._release(priority)

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
        while self._slow and self._slow[0] is not None and now - self._slow[0] >= self.window:
            self._slow.popleft()
        in_use, slow = self._in_flight + len(self._finished), len(self._slow)
        if priority:  # any slot but those the floor keeps for the others
            allowed = in_use < self.limit and in_use - slow < self.limit - self.floor
        else:  # their share, and while margin data waits only their floor
            allowed = in_use < self.limit and slow < self.limit - self.reserve and \
                (not self._priority_waiting or slow < self.floor)
        if allowed:
            self._in_flight += 1
            if not priority:
                self._slow.append(None)
        return allowed

    def _release(self, priority: bool) -> None:
        with self._cond:
            now = self._clock()
            self._in_flight -= 1
            self._finished.append(now)
            if not priority:  # one of its in-flight marks becomes a finished time
                self._slow.remove(None)
                self._slow.append(now)
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
