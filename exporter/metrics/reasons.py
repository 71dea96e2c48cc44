"""Why a poll failed: the values of the health series' `reason` label (`*_errors_total`, which
is exported at zero for every reason, and `*_failing`). Declared here, with the health series
they label; exporter.bybit.errors says which of Bybit's answers is which reason, and what the
exporter then does."""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    TIMEOUT = "timeout"
    NETWORK = "network"
    HTTP = "http"
    INVALID_RESPONSE = "invalid_response"
    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    PERMISSION = "permission"
    CLOCK = "clock"
    API = "api"
    STORAGE = "storage"


REASONS: tuple[Reason, ...] = tuple(Reason)
