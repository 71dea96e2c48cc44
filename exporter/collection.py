"""One poll of one account: every account type fetched, translated and recorded, failures
classified, logged once per change, and backed off where hammering would not help."""

from __future__ import annotations

import logging
import time
from typing import Callable

from exporter.bybit.budget import BudgetClosed
from exporter.bybit.client import BybitClient, PollError
from exporter.store import Store
from exporter.translate import InvalidResponse, translate

log = logging.getLogger("exporter.collection")

AUTH_BACKOFF_MAX_SECONDS = 600.0
# Failures that concern the key or the IP, not one account type: the other types are not tried.
ACCOUNT_WIDE_REASONS = ("auth", "rate_limit")


class AccountPoller:
    def __init__(self, client: BybitClient, store: Store,
                 monotonic: Callable[[], float] = time.monotonic):
        self.client = client
        self.account = client.account
        self.store = store
        self.monotonic = monotonic
        self.not_before = 0.0
        self._auth_failures = 0
        self._last_reason: dict[str, str | None] = {}

    def poll(self) -> None:
        """Poll every account type once, unless a back-off is in force. Never raises."""
        if self.monotonic() < self.not_before:
            log.debug("poll skipped: backing off", extra=self._fields())
            return
        types = self.account.account_types
        for index, account_type in enumerate(types):
            try:
                error = self._poll_type(account_type)
            except BudgetClosed:
                return
            if error is not None and error.reason in ACCOUNT_WIDE_REASONS:
                for skipped in types[index + 1:]:
                    self._record_failure(skipped, error, None)
                self._back_off(error)
                return
        self._auth_failures = 0

    def _poll_type(self, account_type: str) -> PollError | None:
        started = self.monotonic()
        try:
            response = self.client.wallet_balance(account_type)
            snapshot = translate(response.payload, account_type)
        except PollError as exc:
            error = exc
        except InvalidResponse as exc:
            error = PollError("invalid_response", str(exc))
        except BudgetClosed:
            raise
        except Exception as exc:  # a bug must not stop polling: log it and carry on
            log.exception("unexpected error while polling", extra=self._fields(account_type))
            error = PollError("invalid_response", type(exc).__name__)
        else:
            duration = self.monotonic() - started
            self.store.record_success((self.account.name, account_type), snapshot, duration,
                                      response.rate_limit_remaining)
            self._log_recovery(account_type, duration, len(snapshot.coins))
            return None
        self._record_failure(account_type, error, self.monotonic() - started)
        return error

    def _record_failure(self, account_type: str, error: PollError, duration: float | None) -> None:
        self.store.record_failure((self.account.name, account_type), error.reason, duration)
        fields = self._fields(account_type, reason=error.reason, ret_code=error.ret_code,
                              ret_msg=error.message)
        if self._last_reason.get(account_type) != error.reason:
            log.warning("poll failed", extra=fields)
        else:
            log.debug("poll failed again", extra=fields)
        self._last_reason[account_type] = error.reason

    def _log_recovery(self, account_type: str, duration: float, coins: int) -> None:
        fields = self._fields(account_type, duration_seconds=round(duration, 3), coins=coins)
        if self._last_reason.get(account_type) is not None:
            log.info("poll recovered", extra=fields)
        else:
            log.debug("poll succeeded", extra=fields)
        self._last_reason[account_type] = None

    def _back_off(self, error: PollError) -> None:
        if error.reason == "auth":
            # A revoked or expired key, or an IP not whitelisted: someone must act. Retry at
            # 2, 4, 8... poll intervals, at most every 10 minutes, and recover on its own.
            self._auth_failures += 1
            delay = min(self.account.poll_interval * 2 ** self._auth_failures,
                        AUTH_BACKOFF_MAX_SECONDS)
        else:
            delay = error.retry_after or 0.0
        self.not_before = self.monotonic() + delay
        if delay:
            log.info("backing off", extra=self._fields(reason=error.reason,
                                                       seconds=round(delay, 1)))

    def _fields(self, account_type: str | None = None, **more) -> dict:
        fields = {"account": self.account.name}
        if account_type:
            fields["account_type"] = account_type
        fields.update({k: v for k, v in more.items() if v is not None})
        return {"fields": fields}
