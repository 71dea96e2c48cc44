"""When options and dated futures expire, from the public `GET /v5/market/instruments-info`
(`deliveryTime`): one listing per Bybit host and category (for options, per base coin: asked
without one, Bybit lists only BTC's), shared by every account, fetched again after `max_age`
seconds, and at once when a symbol asked for is not in it (then not again for a minute).
Perpetuals have none (deliveryTime "0"); nothing is made up."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable, Mapping

from exporter.bybit.budget import RequestBudget
from exporter.bybit.endpoint import Instrument
from exporter.bybit.client import fetch, new_session
from exporter.bybit.clock import ServerClock
from exporter.bybit.errors import PollError
from exporter.metrics.fields import Unreadable, millis_time

log = logging.getLogger("exporter.bybit")

PATH = "/v5/market/instruments-info"
MAX_AGE_SECONDS = 3600.0
RETRY_SECONDS = 60.0  # a symbol missing from a fresh listing is not asked for again sooner
MAX_PAGES = 20
Listing = tuple[str, str]  # (category, base coin: "" except for options)
Expiries = Callable[[str, Iterable[Instrument]], Mapping[Instrument, float]]


def listing_of(category: str, symbol: str) -> Listing:
    """The listing that names a symbol: options by base coin (BTC-27DEC26-100000-C: BTC)."""
    return (category, symbol.split("-", 1)[0]) if category == "option" else (category, "")


class ExpiryBook:
    """Never makes a poll wait: a lookup answers from the listings at hand and fetches a missing
    or old listing in a thread of its own, for the next poll to find (a margin poll must not
    wait for a public call, nor for one that hangs)."""

    def __init__(self, budget: RequestBudget, timeout: float, max_age: float = MAX_AGE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic):
        self.budget = budget
        self.timeout = timeout
        self.max_age = max_age
        self.monotonic = monotonic
        # (host, listing) -> (fetched at, symbol -> expiry in Unix seconds, or None: none)
        self._listings: dict[tuple[str, Listing], tuple[float, dict[str, float | None]]] = {}
        self._fetching: dict[tuple[str, Listing], threading.Thread] = {}
        self._lock = threading.Lock()

    def expiries(self, endpoint: str, wanted: Iterable[Instrument]) -> dict[Instrument, float]:
        """The expiry of each instrument asked for that has one, as far as it is known now."""
        found: dict[Instrument, float] = {}
        with self._lock:
            for category, symbol in wanted:
                key = (endpoint, listing_of(category, symbol))
                fetched_at, listed = self._listings.get(key, (float("-inf"), {}))
                age = self.monotonic() - fetched_at
                if age >= self.max_age or (symbol not in listed and age >= RETRY_SECONDS):
                    self._fetch_later(key, symbol)
                expiry = listed.get(symbol)
                if expiry is not None:
                    found[category, symbol] = expiry
        return found

    def settle(self, timeout: float | None = None) -> None:
        """Wait for the fetches under way (for tests and benchmarks)."""
        with self._lock:
            threads = list(self._fetching.values())
        for thread in threads:
            thread.join(timeout)

    def _fetch_later(self, key: tuple[str, Listing], symbol: str) -> None:
        if key in self._fetching:
            return
        thread = threading.Thread(target=self._refresh, args=(key, symbol), daemon=True,
                                  name="instruments")
        self._fetching[key] = thread
        thread.start()

    def _refresh(self, key: tuple[str, Listing], symbol: str) -> None:
        endpoint, (category, base_coin) = key
        try:
            listed = self._fetch(endpoint, category, base_coin)
            listed.setdefault(symbol, None)  # not listed: no expiry, and not asked again soon
        except PollError as exc:
            log.warning("instruments info unavailable: positions have no expiry",
                        extra={"fields": {"endpoint": endpoint, "category": category,
                                          "reason": exc.reason, "ret_msg": exc.message}})
            listed = None
        except Exception:  # noqa: BLE001 - a bug here must not end the thread silently
            log.exception("instruments info failed", extra={"fields": {"endpoint": endpoint}})
            listed = None
        with self._lock:
            old = self._listings.get(key, (0.0, {}))[1]
            self._listings[key] = (self.monotonic(), old if listed is None else listed)
            del self._fetching[key]

    def _fetch(self, endpoint: str, category: str, base_coin: str) -> dict[str, float | None]:
        query = f"category={category}&limit=1000" + (f"&baseCoin={base_coin}" if base_coin
                                                     else "")
        session, found, cursor = new_session(endpoint), {}, ""
        try:
            for _ in range(MAX_PAGES):
                url = f"{endpoint}{PATH}?{query}" + (f"&cursor={cursor}" if cursor else "")
                with self.budget.slot():
                    payload = fetch(session, url, {}, self.timeout, ServerClock(endpoint)).payload
                found.update(delivery_times(payload))
                cursor = _cursor(payload)
                if not cursor:
                    break
        finally:
            session.close()
        return found


def delivery_times(payload: Any) -> dict[str, float | None]:
    """{symbol: expiry in Unix seconds, None for a perpetual} from an instruments-info answer;
    rows without a symbol or a readable deliveryTime are skipped."""
    result = payload.get("result") if isinstance(payload, dict) else None
    rows = result.get("list") if isinstance(result, dict) else None
    found: dict[str, float | None] = {}
    for row in rows if isinstance(rows, list) else []:
        symbol = row.get("symbol") if isinstance(row, dict) else None
        if not isinstance(symbol, str):
            continue
        try:
            found[symbol] = millis_time(row.get("deliveryTime"))
        except Unreadable:
            continue
    return found


def _cursor(payload: Any) -> str:
    result = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(result, dict) or not result.get("list"):
        return ""
    cursor = result.get("nextPageCursor")
    return cursor if isinstance(cursor, str) else ""


def no_expiries(_: str, __: Iterable[Instrument]) -> Mapping[Instrument, float]:
    return {}
