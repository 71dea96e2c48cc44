"""How a failed call to Bybit is classified: which of Bybit's answers is which Reason (the
reasons are declared with the health series they label, in exporter.metrics.reasons), what
causes each and what the exporter then does (the documentation's table of reasons), and the
error a failed call raises."""

from __future__ import annotations

from exporter.metrics.reasons import Reason

# reason -> (its cause, what the exporter does about it): the table of docs/metrics.md
# ("Failure reasons") comes from here
EXPLANATIONS: dict[Reason, tuple[str, str]] = {
    Reason.TIMEOUT: ("no complete answer within `timeout`", "retries at the next poll"),
    Reason.NETWORK: ("connection refused or reset, DNS, TLS", "retries at the next poll"),
    Reason.HTTP: ("any other non-2xx status without a Bybit retCode (HTML bodies included), "
                  "or a redirect (never followed: the signed headers stay with Bybit)",
                  "retries at the next poll"),
    Reason.INVALID_RESPONSE: ("not JSON, or not the shape of the endpoint's answer (no "
                              "`result`, a coin listed twice, an answer for another account "
                              "type...)", "nothing of that answer is exported; retries at the "
                                          "next poll"),
    Reason.RATE_LIMIT: ("retCode 10006, HTTP 429, HTTP 403 \"access too frequent\"",
                        "waits for `X-Bapi-Limit-Reset-Timestamp` on Bybit's clock (2 s if "
                        "absent; 10 min after a 403 IP ban)"),
    Reason.AUTH: ("retCode 10003, 10004, 10007, 10010, 33004, -2015, HTTP 401",
                  "retries slowly: after 2, 4, 8... intervals, at most every 10 minutes; the "
                  "collector's other targets are not tried meanwhile"),
    Reason.PERMISSION: ("retCode 10005: the key lacks the permission this collector needs "
                        "(logged by name); or HTTP 404 from an endpoint this Bybit site does "
                        "not offer (asset-overview on regional sites)", "that collector alone retries slowly, like `auth`; "
                                            "the account's other collectors go on"),
    Reason.CLOCK: ("retCode 10002 even after measuring Bybit's clock again",
                   "retries at the next poll"),
    Reason.API: ("any other retCode (e.g. 10001 for an account type the account lacks)",
                 "retries at the next poll"),
    Reason.STORAGE: ("the state under `--storage.path` cannot be opened, read or written (full "
                     "disk, read-only volume, a file that is not a database, a state written by "
                     "a newer release): `transactions` and `deposits` only, logged with the path",
                     "the account's other collectors go on; retries at the next poll and "
                     "catches up on the rows since; an unreadable file is moved aside (never "
                     "overwritten) and the totals start again from zero; a newer release's "
                     "state is left as it is"),
}

AUTH_CODES = frozenset({10003, 10004, 10007, 10010, 33004, -2015})
PERMISSION_CODES = frozenset({10005})
RATE_LIMIT_CODES = frozenset({10006})
CLOCK_CODES = frozenset({10002})


class PollError(Exception):
    """A failed call, classified; `retry_after` seconds when the server says when to retry."""

    def __init__(self, reason: Reason, message: str, ret_code: int | None = None,
                 retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.ret_code = ret_code
        self.retry_after = retry_after
        self.status = status  # the HTTP status of a non-2xx answer
