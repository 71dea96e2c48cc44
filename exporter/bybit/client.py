"""Signed HTTP calls to Bybit V5, with every failure classified as one Reason."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

import requests
from urllib3.exceptions import ReadTimeoutError

from exporter import __version__
from exporter.bybit import signing
from exporter.bybit.budget import RequestBudget
from exporter.bybit.clock import ServerClock
from exporter.bybit.errors import (AUTH_CODES, CLOCK_CODES, PERMISSION_CODES, RATE_LIMIT_CODES,
                                   PollError)
from exporter.account import Account
from exporter.metrics.reasons import Reason

MAX_BODY_BYTES = 8 * 1024 * 1024
RATE_LIMIT_FALLBACK_SECONDS = 2.0
IP_BAN_FALLBACK_SECONDS = 600.0  # Bybit's documented minimum ban after a 403
MAX_RESET_WAIT_SECONDS = 60.0
MAX_MESSAGE_CHARS = 200
UID_LIMIT_MARGIN = 1.2  # calls spaced 20% wider than Bybit's per-UID limit: network jitter
USER_AGENT = f"bybit-exporter/{__version__}"


@dataclass(frozen=True)
class Response:
    payload: dict[str, Any]
    rate_limit_remaining: int | None


class BybitClient:
    """One account's keep-alive session: builds, signs and sends its GET requests, within the
    shared per-IP budget and Bybit's per-UID limit of each endpoint."""

    def __init__(self, account: Account, clock: ServerClock, budget: RequestBudget,
                 timeout: float, session: requests.Session | None = None):
        self.account = account
        self.clock = clock
        self.budget = budget
        self.timeout = timeout
        self.session = session or new_session(account.endpoint)
        self._api_key = account.api_key.reveal()
        self._sign = _signer(account)
        self._spacing = _Spacing()

    def get(self, path: str, query: str, uid_limit_per_second: float = 50.0,
            priority: bool = False) -> Response:
        """One signed GET; a refused timestamp (10002) measures Bybit's clock again and retries
        once. `priority`: margin data, served first by the request budget."""
        self._ensure_synced()
        attempt_started = time.monotonic()
        try:
            return self._signed_get(path, query, uid_limit_per_second, priority)
        except PollError as exc:
            if exc.reason != Reason.CLOCK:
                raise
        self._resync(attempt_started)
        return self._signed_get(path, query, uid_limit_per_second, priority)

    def close(self) -> None:
        self.session.close()

    def _fetch_time(self, url: str, timeout: float) -> dict[str, Any]:
        with self.budget.slot(priority=True):  # rare, and every poll of the host needs it
            return fetch(self.session, url, {}, timeout, self.clock).payload

    def _ensure_synced(self) -> None:
        # A host without /v5/market/time still works if its clock is right; retry next poll.
        try:
            self.clock.ensure_synced(self._fetch_time, self.timeout)
        except PollError:
            pass

    def _resync(self, attempt_started: float) -> None:
        try:
            self.clock.resync(self._fetch_time, self.timeout, attempt_started)
        except PollError as exc:
            raise PollError(Reason.CLOCK, "timestamp refused and clock resync failed: "
                            f"{exc.message}", 10002) from None

    def _signed_get(self, path: str, query: str, uid_limit: float,
                    priority: bool) -> Response:
        self._spacing.wait(path, UID_LIMIT_MARGIN / uid_limit)
        # The URL is built by hand: the signature covers exactly the bytes after '?'.
        url = f"{self.account.endpoint}{path}?{query}" if query else self.account.endpoint + path
        with self.budget.slot(priority):
            # Stamped and signed once the budget lets it go: a request that waited longer
            # than recv_window for its slot (a fund's start, at the budget) would be refused.
            return fetch(self.session, url, self._signed_headers(query), self.timeout,
                         self.clock, self._api_key)

    def _signed_headers(self, query: str) -> dict[str, str]:
        timestamp = self.clock.now_ms()
        recv_window = self.account.recv_window_ms
        return {
            "X-BAPI-API-KEY": self._api_key,
            "X-BAPI-TIMESTAMP": str(timestamp),
            "X-BAPI-RECV-WINDOW": str(recv_window),
            "X-BAPI-SIGN": self._sign(signing.string_to_sign(timestamp, self._api_key,
                                                             recv_window, query)),
            "X-BAPI-SIGN-TYPE": "2",
        }


def _signer(account: Account) -> signing.Signer:
    if account.rsa_private_key is not None:
        return signing.rsa_signer(account.rsa_private_key.reveal())
    assert account.api_secret is not None  # the config requires one of the two
    return signing.hmac_signer(account.api_secret.reveal())


class _Spacing:
    """Calls to one endpoint at least 1/limit seconds apart: Bybit's per-UID limits count a
    rolling second per endpoint."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str, gap: float) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(key, 0.0))
            self._next[key] = at + gap
        if at > now:
            time.sleep(at - now)


def environ_proxies(endpoint: str) -> dict[str, str]:
    """The proxies the environment (HTTPS_PROXY, NO_PROXY...) names for `endpoint`: a scan of
    the whole environment, 0.075 ms with 40 variables."""
    proxies: dict[str, str] = requests.utils.get_environ_proxies(endpoint)
    return proxies


def new_session(endpoint: str, proxies: Mapping[str, str] | None = None) -> requests.Session:
    """A session with proxy settings read once (from the environment unless given), not on
    every request: requests would otherwise scan the environment and ~/.netrc for each call."""
    session = requests.Session()
    session.proxies = dict(environ_proxies(endpoint) if proxies is None else proxies)
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    return session


def fetch(session: requests.Session, url: str, headers: Mapping[str, str], timeout: float,
          clock: ServerClock, redact: str = "") -> Response:
    """GET `url` (never following a redirect: the signed headers must not travel to another
    host) and return its JSON envelope, or raise a classified PollError."""
    deadline = time.monotonic() + timeout
    try:
        with session.get(url, headers=dict(headers), timeout=timeout, stream=True,
                         allow_redirects=False) as response:
            body = _read_body(response, deadline)
    except requests.Timeout:
        raise PollError(Reason.TIMEOUT, f"no answer within {timeout:g}s") from None
    except requests.RequestException as exc:
        if _is_read_timeout(exc):
            raise PollError(Reason.TIMEOUT, f"no answer within {timeout:g}s") from None
        raise PollError(Reason.NETWORK, _describe_network_error(exc)) from None
    envelope = _envelope(body)
    if not 200 <= response.status_code < 300:
        _check_status(response, body, envelope, clock, redact)
    if envelope is None:
        raise PollError(Reason.INVALID_RESPONSE, "body is not a JSON object")
    _check_ret_code(envelope, response.headers, clock, redact)
    return Response(envelope, _int_header(response.headers, "X-Bapi-Limit-Status"))


def _read_body(response: requests.Response, deadline: float) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PollError(Reason.INVALID_RESPONSE, f"body larger than {MAX_BODY_BYTES} bytes")
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


def _envelope(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _check_status(response: requests.Response, body: bytes, envelope: dict[str, Any] | None,
                  clock: ServerClock, redact: str) -> None:
    """A non-2xx answer: Bybit's retCode decides when the body carries one (HTTP 400 with
    10001, for instance); otherwise the status does."""
    status = response.status_code
    if 300 <= status < 400:
        raise PollError(Reason.HTTP, f"HTTP {status} redirect (not followed)")
    code = envelope.get("retCode") if envelope is not None else None
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        _check_ret_code(envelope or {}, response.headers, clock, redact)
    text = body[:2000].decode("utf-8", "replace").lower()
    if status == 429:
        raise PollError(Reason.RATE_LIMIT, "HTTP 429",
                        retry_after=_reset_after(response.headers, clock))
    if status == 403 and "too frequent" in text:
        raise PollError(Reason.RATE_LIMIT, "HTTP 403 access too frequent (IP rate limit)",
                        retry_after=IP_BAN_FALLBACK_SECONDS)
    if status == 401:
        raise PollError(Reason.AUTH, "HTTP 401 (authentication headers refused)")
    raise PollError(Reason.HTTP, f"HTTP {status}", status=status)


def _check_ret_code(payload: dict[str, Any], headers: Any, clock: ServerClock,
                    redact: str) -> None:
    code = payload.get("retCode")
    if isinstance(code, bool) or not isinstance(code, int):
        raise PollError(Reason.INVALID_RESPONSE, "retCode missing or not a number")
    if code == 0:
        return
    message = _clean_message(payload.get("retMsg"), redact)
    if code in AUTH_CODES:
        raise PollError(Reason.AUTH, message, code)
    if code in PERMISSION_CODES:
        raise PollError(Reason.PERMISSION, message, code)
    if code in RATE_LIMIT_CODES:
        raise PollError(Reason.RATE_LIMIT, message, code,
                        retry_after=_reset_after(headers, clock))
    if code in CLOCK_CODES:
        raise PollError(Reason.CLOCK, message, code)
    raise PollError(Reason.API, message, code)


def _clean_message(message: Any, redact: str) -> str:
    """Bybit echoes the string it signed (with the API key) in some errors: strip the key."""
    text = message if isinstance(message, str) else repr(message)
    if redact:
        text = text.replace(redact, "***")
    return text[:MAX_MESSAGE_CHARS]


def _reset_after(headers: Any, clock: ServerClock) -> float:
    """Seconds until X-Bapi-Limit-Reset-Timestamp, which is a time on Bybit's clock."""
    reset_ms = _int_header(headers, "X-Bapi-Limit-Reset-Timestamp")
    if reset_ms is None:
        return RATE_LIMIT_FALLBACK_SECONDS
    return min(max((reset_ms - clock.now_ms()) / 1000, 0.0), MAX_RESET_WAIT_SECONDS)


def _int_header(headers: Any, name: str) -> int | None:
    try:
        return int(headers.get(name))
    except (TypeError, ValueError):
        return None
