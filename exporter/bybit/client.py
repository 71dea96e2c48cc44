"""Signed HTTP calls to Bybit V5, with every failure classified as one `reason`."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import ReadTimeoutError

from exporter.bybit import signing
from exporter.bybit.budget import RequestBudget
from exporter.config import Account

log = logging.getLogger("exporter.bybit")

REASONS = ("timeout", "network", "http", "invalid_response", "rate_limit", "auth", "clock", "api")
AUTH_CODES = frozenset({10003, 10004, 10005, 10007, 10010, 33004, -2015})
RATE_LIMIT_CODES = frozenset({10006})
CLOCK_CODES = frozenset({10002})

WALLET_PATH = "/v5/account/wallet-balance"
TIME_PATH = "/v5/market/time"
MAX_BODY_BYTES = 8 * 1024 * 1024
RATE_LIMIT_FALLBACK_SECONDS = 2.0
IP_BAN_FALLBACK_SECONDS = 600.0  # Bybit's documented minimum ban after a 403
MAX_MESSAGE_CHARS = 200
USER_AGENT = "bybit-exporter"


class PollError(Exception):
    """A failed call: `reason` is one of REASONS; `retry_after` seconds, when the server says."""

    def __init__(self, reason: str, message: str, ret_code: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.ret_code = ret_code
        self.retry_after = retry_after


@dataclass(frozen=True)
class WalletResponse:
    payload: dict[str, Any]
    rate_limit_remaining: int | None


class ServerClock:
    """Offset from this host's clock to Bybit's, measured from /v5/market/time; one per host."""

    def __init__(self, base_url: str, timeout: float, budget: RequestBudget):
        self.base_url = base_url
        self.timeout = timeout
        self.budget = budget
        self.offset_ms = 0
        self.synced_at: float | None = None
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def ensure_synced(self, session: requests.Session) -> None:
        """Measure the offset once; threads arriving together wait for the first measurement."""
        with self._lock:
            if self.synced_at is None:
                self._measure(session)

    def resync(self, session: requests.Session, refused_at: float) -> None:
        """Measure again, unless another thread already did after our request was refused."""
        with self._lock:
            if self.synced_at is None or self.synced_at <= refused_at:
                self._measure(session)

    def _measure(self, session: requests.Session) -> None:
        with self.budget.slot():
            sent = time.time()
            payload, _ = _get(session, self.base_url + TIME_PATH, {}, self.timeout, "")
            received = time.time()
        offset_ms = _server_time_ms(payload) - int((sent + received) * 500)
        if abs(offset_ms - self.offset_ms) >= 500 or self.synced_at is None:
            log.info("measured Bybit's clock", extra={"fields": {
                "endpoint": self.base_url, "offset_ms": offset_ms,
                "round_trip_ms": round((received - sent) * 1000)}})
        self.offset_ms = offset_ms
        self.synced_at = time.monotonic()


class BybitClient:
    """One account's keep-alive session: builds, signs and sends wallet-balance requests."""

    def __init__(self, account: Account, clock: ServerClock, budget: RequestBudget,
                 timeout: float, session: requests.Session | None = None):
        self.account = account
        self.clock = clock
        self.budget = budget
        self.timeout = timeout
        self.session = session or _session_for(account.endpoint)
        self._api_key = account.api_key.reveal()
        self._sign = (signing.rsa_signer(account.rsa_private_key.reveal())
                      if account.rsa_private_key else
                      signing.hmac_signer(account.api_secret.reveal()))

    def wallet_balance(self, account_type: str) -> WalletResponse:
        self._ensure_synced()
        query = f"accountType={account_type}"
        if self.account.coins:
            query += "&coin=" + ",".join(self.account.coins)
        attempt_started = time.monotonic()
        try:
            return self._signed_get(WALLET_PATH, query)
        except PollError as exc:
            if exc.reason != "clock":
                raise
        self._resync(attempt_started)
        return self._signed_get(WALLET_PATH, query)

    def close(self) -> None:
        self.session.close()

    def _ensure_synced(self) -> None:
        # A host without /v5/market/time still works if its clock is right; retry next poll.
        try:
            self.clock.ensure_synced(self.session)
        except PollError:
            pass

    def _resync(self, attempt_started: float) -> None:
        try:
            self.clock.resync(self.session, attempt_started)
        except PollError as exc:
            raise PollError("clock", f"timestamp refused and clock resync failed: {exc.message}",
                            10002) from None

    def _signed_get(self, path: str, query: str) -> WalletResponse:
        timestamp = self.clock.now_ms()
        recv_window = self.account.recv_window_ms
        headers = {
            "X-BAPI-API-KEY": self._api_key,
            "X-BAPI-TIMESTAMP": str(timestamp),
            "X-BAPI-RECV-WINDOW": str(recv_window),
            "X-BAPI-SIGN": self._sign(signing.string_to_sign(timestamp, self._api_key,
                                                             recv_window, query)),
            "X-BAPI-SIGN-TYPE": "2",
        }
        # The URL is built by hand: the signature covers exactly the bytes after '?'.
        with self.budget.slot():
            payload, response_headers = _get(self.session, f"{self.account.endpoint}{path}?{query}",
                                             headers, self.timeout, self._api_key)
        return WalletResponse(payload, _int_header(response_headers, "X-Bapi-Limit-Status"))


def _session_for(endpoint: str) -> requests.Session:
    """A session that reads proxy settings (HTTPS_PROXY, NO_PROXY) once, not on every request:
    requests would otherwise scan the environment and ~/.netrc for each call."""
    session = requests.Session()
    session.proxies = requests.utils.get_environ_proxies(endpoint)
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    return session


def _get(session: requests.Session, url: str, headers: dict[str, str], timeout: float,
         redact: str) -> tuple[dict[str, Any], Any]:
    deadline = time.monotonic() + timeout
    try:
        with session.get(url, headers=headers, timeout=timeout, stream=True) as response:
            body = _read_body(response, deadline)
    except requests.Timeout:
        raise PollError("timeout", f"no answer within {timeout:g}s") from None
    except requests.RequestException as exc:
        if _is_read_timeout(exc):
            raise PollError("timeout", f"no answer within {timeout:g}s") from None
        raise PollError("network", _describe_network_error(exc)) from None
    _check_status(response, body)
    payload = _parse_json(body)
    _check_ret_code(payload, response.headers, redact)
    return payload, response.headers


def _read_body(response: requests.Response, deadline: float) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PollError("invalid_response", f"body larger than {MAX_BODY_BYTES} bytes")
        if time.monotonic() > deadline:
            raise requests.Timeout()
        chunks.append(chunk)
    return b"".join(chunks)


def _is_read_timeout(exc: Exception) -> bool:
    return any(isinstance(arg, ReadTimeoutError) for arg in exc.args)


def _describe_network_error(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Connection reset", "Name or service not known",
                   "Temporary failure in name resolution", "IncompleteRead",
                   "Connection aborted", "Response ended prematurely", "certificate verify"):
        if marker.lower() in text.lower():
            return marker
    return type(exc).__name__


def _check_status(response: requests.Response, body: bytes) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    text = body[:2000].decode("utf-8", "replace").lower()
    if status == 429:
        raise PollError("rate_limit", "HTTP 429", retry_after=_reset_after(response.headers))
    if status == 403 and "too frequent" in text:
        raise PollError("rate_limit", "HTTP 403 access too frequent (IP rate limit)",
                        retry_after=IP_BAN_FALLBACK_SECONDS)
    if status == 401:
        raise PollError("auth", "HTTP 401 (authentication headers refused)")
    raise PollError("http", f"HTTP {status}")


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PollError("invalid_response", "body is not JSON") from None
    if not isinstance(payload, dict):
        raise PollError("invalid_response", "body is not a JSON object")
    return payload


def _check_ret_code(payload: dict[str, Any], headers: Any, redact: str) -> None:
    code = payload.get("retCode")
    if isinstance(code, bool) or not isinstance(code, int):
        raise PollError("invalid_response", "retCode missing or not a number")
    if code == 0:
        return
    message = _clean_message(payload.get("retMsg"), redact)
    if code in AUTH_CODES:
        raise PollError("auth", message, code)
    if code in RATE_LIMIT_CODES:
        raise PollError("rate_limit", message, code, retry_after=_reset_after(headers))
    if code in CLOCK_CODES:
        raise PollError("clock", message, code)
    raise PollError("api", message, code)


def _clean_message(message: Any, redact: str) -> str:
    """Bybit echoes the string it signed (with the API key) in some errors: strip the key."""
    text = message if isinstance(message, str) else repr(message)
    if redact:
        text = text.replace(redact, "***")
    return text[:MAX_MESSAGE_CHARS]


def _reset_after(headers: Any) -> float:
    reset_ms = _int_header(headers, "X-Bapi-Limit-Reset-Timestamp")
    if reset_ms is None:
        return RATE_LIMIT_FALLBACK_SECONDS
    return min(max(reset_ms / 1000 - time.time(), 0.0), 60.0)


def _int_header(headers: Any, name: str) -> int | None:
    try:
        return int(headers.get(name))
    except (TypeError, ValueError):
        return None


def _server_time_ms(payload: dict[str, Any]) -> int:
    result = payload.get("result")
    try:
        if isinstance(result, dict) and result.get("timeNano"):
            return int(result["timeNano"]) // 1_000_000
        return int(payload["time"])
    except (KeyError, TypeError, ValueError):
        raise PollError("invalid_response", "market time missing from /v5/market/time") from None
