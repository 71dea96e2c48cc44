"""A collector of running totals (transactions, deposits): each poll reads its logs from where
the last one got to, back an overlap for rows that arrive late, counts the rows not counted
before, and exports the totals.

A poll: (1) in one short transaction, the origin (when counting began) and each log's progress;
(2) the requests, walking forward in windows no wider than Bybit allows; (3) in one
transaction, the new rows, the totals and the progress. Killed between (1) and (3), the next
poll reads the same rows again and counts each once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from exporter.bybit.client import BybitClient
from exporter.bybit.answers import InvalidResponse, next_cursor, result_of
from exporter.bybit.endpoint import Endpoint, Target
from exporter.bybit.ledger import Entry, Source, samples, windows
from exporter.metrics.fields import Reader, Translation
from exporter.service.ledger_state import Ledger, LedgerFile
from exporter.service.poller import Poller, Prices, no_prices
from exporter.service.store import Store

UID_PATH = "/v5/user/query-api"  # any key may call it; its userID keys the state
UID_LIMIT_PER_SECOND = 10
MAX_WINDOWS_PER_POLL = 8  # a long catch-up (a backfill, days of downtime) goes on next poll
MAX_PAGES_PER_WINDOW = 40
MIN_WINDOW_MS = 60_000


@dataclass
class _Read:
    """What one poll read of one log: its rows, and how far the log is now read."""

    entries: list[Entry]
    read_until_ms: int | None  # None: no window was read whole
    sweep: bool  # read back the whole overlap


class LedgerPoller(Poller):
    def __init__(self, endpoint: Endpoint, client: BybitClient, store: Store, interval: float,
                 state: LedgerFile, since_seconds: float = 0.0, prices: Prices = no_prices,
                 monotonic: Callable[[], float] = time.monotonic):
        super().__init__(endpoint, client, store, interval, prices, monotonic)
        self.state = state
        self.since_ms = int(since_seconds * 1000)
        self._uid: str | None = None
        self._window_ms = {source.name: source.window_ms for source in endpoint.sources}

    def _collect(self, target: Target) -> tuple[Translation, int | None]:
        uid, now_ms = self._bybit_uid(), self.client.clock.now_ms()
        collector = self.endpoint.collector
        with self.state.transaction(uid, collector) as ledger:
            origin = ledger.origin(now_ms - self.since_ms)
            starts = {source.name: self._start(ledger, source, origin, now_ms)
                      for source in self.endpoint.sources}
        reader = Reader()
        reads = {source.name: self._read(source, *starts[source.name], now_ms, reader)
                 for source in self.endpoint.sources}
        with self.state.transaction(uid, collector) as ledger:
            for source in self.endpoint.sources:
                read = reads[source.name]
                ledger.count(source, read.entries, origin, read.read_until_ms, read.sweep)
            totals = ledger.totals(self.endpoint.families)
        return Translation(samples(totals), tuple(reader.unreadable)), self._remaining

    def _start(self, ledger: Ledger, source: Source, origin_ms: int, now_ms: int
               ) -> tuple[int, bool]:
        """Where this poll reads the log from, and whether it is a sweep."""
        read_until, swept = ledger.read_until(source), ledger.read_until(source, sweep=True)
        if read_until is None or swept is None:
            return origin_ms, True
        if now_ms - swept >= source.sweep_every_ms:
            return max(origin_ms, swept - source.overlap_ms), True
        return max(origin_ms, read_until - source.light_overlap_ms), False

    def _read(self, source: Source, start_ms: int, sweep: bool, end_ms: int, reader: Reader
              ) -> _Read:
        read = _Read([], None, sweep)
        spans = windows(start_ms, end_ms, self._window_ms[source.name])[:MAX_WINDOWS_PER_POLL]
        for window_start, window_end in spans:
            if not self._read_window(source, window_start, window_end, reader, read.entries):
                # too many rows for one poll's pages: narrower windows next time
                self._window_ms[source.name] = max(self._window_ms[source.name] // 2,
                                                   MIN_WINDOW_MS)
                break
            read.read_until_ms = window_end
            self._window_ms[source.name] = min(self._window_ms[source.name] * 2,
                                               source.window_ms)
        return read

    def _read_window(self, source: Source, start_ms: int, end_ms: int, reader: Reader,
                     entries: list[Entry]) -> bool:
        """Every page of one window; False if there were more than one poll may ask for."""
        query = f"{source.query}&startTime={start_ms}&endTime={end_ms}"
        cursor = ""
        for _ in range(MAX_PAGES_PER_WINDOW):
            payload = self._get(source.path, f"{query}&cursor={cursor}" if cursor else query,
                                source.uid_limit_per_second)
            entries.extend(source.entries(payload, reader))
            cursor = next_cursor(payload, source.list_key)
            if not cursor:
                return True
        return False

    def _bybit_uid(self) -> str:
        """The UID behind the key, asked once per process."""
        if self._uid is None:
            uid = result_of(self._get(UID_PATH, "", UID_LIMIT_PER_SECOND)).get("userID")
            if isinstance(uid, bool) or not isinstance(uid, (int, str)) or not str(uid).isdigit():
                raise InvalidResponse("query-api gave no userID")
            self._uid = str(uid)
        return self._uid
