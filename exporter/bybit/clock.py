"""The offset from this host's clock to Bybit's, measured from /v5/market/time; one per host."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from exporter.bybit.errors import PollError
from exporter.metrics.reasons import Reason

log = logging.getLogger("exporter.bybit")

TIME_PATH = "/v5/market/time"
# (url, timeout) -> the answer's JSON; raises PollError
Fetch = Callable[[str, float], dict[str, Any]]


class ServerClock:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.offset_ms = 0
        self.synced_at: float | None = None
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def ensure_synced(self, fetch: Fetch, timeout: float) -> None:
        """Measure the offset once; threads arriving together wait for the first measurement."""
        with self._lock:
            if self.synced_at is None:
                self._measure(fetch, timeout)

    def resync(self, fetch: Fetch, timeout: float, refused_at: float) -> None:
        """Measure again, unless another thread already did after our request was refused."""
        with self._lock:
            if self.synced_at is None or self.synced_at <= refused_at:
                self._measure(fetch, timeout)

    def _measure(self, fetch: Fetch, timeout: float) -> None:
        sent = time.time()
        payload = fetch(self.base_url + TIME_PATH, timeout)
        received = time.time()
        offset_ms = server_time_ms(payload) - int((sent + received) * 500)
        if abs(offset_ms - self.offset_ms) >= 500 or self.synced_at is None:
            log.info("measured Bybit's clock", extra={"fields": {
                "endpoint": self.base_url, "offset_ms": offset_ms,
                "round_trip_ms": round((received - sent) * 1000)}})
        self.offset_ms = offset_ms
        self.synced_at = time.monotonic()


def server_time_ms(payload: dict[str, Any]) -> int:
    result = payload.get("result")
    try:
        if isinstance(result, dict) and result.get("timeNano"):
            return int(result["timeNano"]) // 1_000_000
        return int(payload["time"])
    except (KeyError, TypeError, ValueError):
        raise PollError(Reason.INVALID_RESPONSE,
                        "market time missing from /v5/market/time") from None
