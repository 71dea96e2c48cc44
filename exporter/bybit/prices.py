"""USD index prices of spot coins, from the public `GET /v5/market/tickers?category=spot`
(`usdIndexPrice`, the index Bybit itself values coins with): one call per Bybit host shared by
every account, refreshed at most every `max_age` seconds. A coin without an index price has
none: nothing is made up."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Mapping

from exporter.bybit.budget import RequestBudget
from exporter.bybit.client import fetch, new_session
from exporter.bybit.clock import ServerClock
from exporter.bybit.errors import PollError
from exporter.metrics.fields import Unreadable, number

log = logging.getLogger("exporter.bybit")

TICKERS_PATH = "/v5/market/tickers?category=spot"
QUOTES = ("USDT", "USDC")  # a pair's usdIndexPrice is its base coin's USD price
MAX_AGE_SECONDS = 300.0


class PriceBook:
    def __init__(self, budget: RequestBudget, timeout: float, max_age: float = MAX_AGE_SECONDS):
        self.budget = budget
        self.timeout = timeout
        self.max_age = max_age
        self._prices: dict[str, tuple[float, Mapping[str, float]]] = {}
        self._lock = threading.Lock()

    def for_host(self, endpoint: str) -> Mapping[str, float]:
        """Prices by coin for this host, fetched again when older than max_age; none after a
        failed fetch (tried again after max_age / 2)."""
        with self._lock:  # one fetch at a time: accounts on one host wait for the same answer
            fetched_at, prices = self._prices.get(endpoint, (float("-inf"), {}))
            if time.monotonic() - fetched_at < self.max_age:
                return prices
            try:
                prices = self._fetch(endpoint)
            except PollError as exc:
                log.warning("index prices unavailable: Funding coins have no USD value",
                            extra={"fields": {"endpoint": endpoint, "reason": exc.reason,
                                              "ret_msg": exc.message}})
                self._prices[endpoint] = (time.monotonic() - self.max_age / 2, {})
                return {}
            self._prices[endpoint] = (time.monotonic(), prices)
            return prices

    def _fetch(self, endpoint: str) -> Mapping[str, float]:
        session = new_session(endpoint)
        try:
            with self.budget.slot():
                payload = fetch(session, endpoint + TICKERS_PATH, {}, self.timeout,
                                ServerClock(endpoint)).payload
        finally:
            session.close()
        return index_prices(payload)


def index_prices(payload: Any) -> dict[str, float]:
    """{coin: USD} from a tickers answer; pairs without a readable usdIndexPrice are skipped."""
    result = payload.get("result") if isinstance(payload, dict) else None
    rows = result.get("list") if isinstance(result, dict) else None
    prices: dict[str, float] = {}
    for row in rows if isinstance(rows, list) else []:
        symbol = row.get("symbol") if isinstance(row, dict) else None
        if not isinstance(symbol, str):
            continue
        base = next((symbol[:-len(q)] for q in QUOTES if symbol.endswith(q) and symbol != q), "")
        try:
            price = number(row.get("usdIndexPrice"))
        except Unreadable:
            continue
        if base and price is not None and price > 0:
            prices.setdefault(base, price)
    return prices
