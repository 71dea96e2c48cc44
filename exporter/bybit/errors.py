"""Why a call to Bybit failed: one enumeration, used by the client, the poller, the metrics and
the README's table of reasons."""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Each failure reason, with what causes it and what the exporter then does (README)."""

    TIMEOUT = "timeout"
    NETWORK = "network"
    HTTP = "http"
    INVALID_RESPONSE = "invalid_response"
    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    PERMISSION = "permission"
    CLOCK = "clock"
    API = "api"


REASONS: tuple[Reason, ...] = tuple(Reason)

AUTH_CODES = frozenset({10003, 10004, 10007, 10010, 33004, -2015})
PERMISSION_CODES = frozenset({10005})
RATE_LIMIT_CODES = frozenset({10006})
CLOCK_CODES = frozenset({10002})


class PollError(Exception):
    """A failed call, classified; `retry_after` seconds when the server says when to retry."""

    def __init__(self, reason: Reason, message: str, ret_code: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.ret_code = ret_code
        self.retry_after = retry_after
