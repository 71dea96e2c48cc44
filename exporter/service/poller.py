"""One collector of one account: its targets fetched, translated and recorded, failures
classified, logged once per change, and backed off where hammering would not help."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping, Sequence

from exporter.bybit.budget import BudgetClosed
from exporter.bybit.client import BybitClient
from exporter.bybit.answers import InvalidResponse, next_cursor
from exporter.bybit.endpoint import Context, Endpoint, Target
from exporter.bybit.errors import PollError
from exporter.bybit.instruments import Expiries
from exporter.metrics.fields import Translation
from exporter.metrics.reasons import Reason
from exporter.service.store import Store, TargetKey

log = logging.getLogger("exporter.collection")

SLOW_BACKOFF_MAX_SECONDS = 600.0
# Failures that concern the key or the IP, not one target: the other targets are not tried.
ACCOUNT_WIDE_REASONS = (Reason.AUTH, Reason.RATE_LIMIT, Reason.PERMISSION)
# Failures someone must act on: retried at 2, 4, 8... intervals, at most every 10 minutes.
SLOW_REASONS = (Reason.AUTH, Reason.PERMISSION)
MAX_PAGES = 50
Prices = Callable[[str], Mapping[str, float]]  # Bybit host -> USD price by coin


def no_prices(_: str) -> Mapping[str, float]:
    return {}


class Poller:
    def __init__(self, endpoint: Endpoint, client: BybitClient, store: Store, interval: float,
                 prices: Prices = no_prices, monotonic: Callable[[], float] = time.monotonic):
        self.endpoint = endpoint
        self.client = client
        self.account = client.account
        self.store = store
        self.interval = interval
        self.prices = prices
        self.monotonic = monotonic
        self.not_before = 0.0
        self._slow_failures = 0
        self._last_reason: dict[TargetKey, Reason | None] = {}
        self._last_unreadable: dict[TargetKey, frozenset[str]] = {}
        self._remaining: int | None = None
        # Hooks: a well-formed answer, as (query, payload) pairs, is shown to `observe` (the
        # wallet's evidence); `choose` picks the queries of a target to ask now;
        # `wallet_coins` says which coins the account's wallet lists.
        self.observe: Callable[[Target, Sequence[tuple[str, Any]]], None] | None = None
        self.choose: Callable[[Target], tuple[str, ...]] | None = None
        self.wallet_coins: Callable[[], frozenset[str] | None] | None = None
        # when the instruments an answer names expire (the hosts' shared ExpiryBook)
        self.expiries: Expiries | None = None
        self._kept: dict[TargetKey, Translation] = {}  # endpoints that keep unasked answers

    def key(self, target: Target) -> TargetKey:
        return TargetKey(self.account.name, self.endpoint.collector, target.labels)

    def poll(self) -> None:
        """Poll every target once, unless a back-off is in force. Never raises."""
        if self.monotonic() < self.not_before:
            log.debug("poll skipped: backing off", extra=self._fields())
            return
        targets = self.endpoint.targets(self.account)
        for index, target in enumerate(targets):
            try:
                error = self._poll_target(target)
            except BudgetClosed:
                return
            if error is not None and error.reason in ACCOUNT_WIDE_REASONS:
                for skipped in targets[index + 1:]:
                    self._record_failure(self.key(skipped), error, None)
                self._back_off(error)
                return
        self._slow_failures = 0

    def _poll_target(self, target: Target) -> PollError | None:
        key = self.key(target)
        started = self.monotonic()
        try:
            translation, remaining = self._collect(target)
        except PollError as exc:
            error = self._not_offered(exc)
        except InvalidResponse as exc:
            error = PollError(Reason.INVALID_RESPONSE, str(exc))
        except BudgetClosed:
            raise
        except Exception as exc:  # a bug must not stop polling: log it and carry on
            log.exception("unexpected error while polling", extra=self._fields(key))
            error = PollError(Reason.INVALID_RESPONSE, type(exc).__name__)
        else:
            duration = self.monotonic() - started
            self.store.record_success(key, translation, duration, remaining)
            self._log_recovery(key, duration)
            self._log_unreadable(key, translation)
            return None
        self._record_failure(key, error, self.monotonic() - started)
        return error

    def _collect(self, target: Target) -> tuple[Translation, int | None]:
        """The target's answers as samples, and the rate-limit requests left."""
        key = self.key(target)
        queries = target.queries if self.choose is None else self.choose(target)
        if not queries and key in self._kept:  # nothing to ask: the last answer stands
            return self._kept[key], self._remaining
        answers, remaining = self._fetch(queries)
        payloads = [payload for _, payload in answers]
        context = self._context(target, payloads, tuple(query for query, _ in answers))
        translation = self.endpoint.translate(payloads, context)
        if self.observe is not None:
            self.observe(target, answers)
        if self.endpoint.keeps_unasked:
            self._kept[key] = translation
        return translation, remaining

    def _context(self, target: Target, payloads: list[Any], queries: tuple[str, ...]
                 ) -> Context:
        coins = self.wallet_coins() if self.wallet_coins is not None else None
        wanted = self.endpoint.instruments
        expiries = self.expiries(self.account.endpoint, wanted(payloads)) \
            if wanted is not None and self.expiries is not None else {}
        return Context(dict(target.labels), self._prices(), coins, expiries, queries)

    def _fetch(self, queries: Sequence[str]) -> tuple[list[tuple[str, Any]], int | None]:
        """Every page of every query, as (query, payload)."""
        answers: list[tuple[str, Any]] = []
        for query in queries:
            cursor = ""
            path, own = self.endpoint.request(query)
            for _ in range(MAX_PAGES):
                paged = f"{own}&cursor={cursor}" if cursor else own
                payload = self._get(path, paged, self.endpoint.uid_limit_per_second)
                answers.append((query, payload))
                cursor = next_cursor(payload) if self.endpoint.paginated else ""
                if not cursor:
                    break
            if cursor:  # a part of an answer would be exported as if it were all of it
                raise InvalidResponse(f"more than {MAX_PAGES} pages for {query}")
        return answers, self._remaining  # if no query was asked, the last one heard

    def _get(self, path: str, query: str, uid_limit_per_second: float) -> Any:
        """One signed GET (margin data first in the budget); notes the rate limit left. A
        retCode the endpoint takes as an answer (MMP's "not enabled") is returned as one."""
        try:
            response = self.client.get(path, query, uid_limit_per_second,
                                       priority=self.endpoint.margin)
        except PollError as exc:
            if exc.ret_code is None or exc.ret_code not in self.endpoint.answer_codes:
                raise
            return {"retCode": exc.ret_code, "retMsg": exc.message, "result": {}}
        self._remaining = response.rate_limit_remaining
        return response.payload

    def _not_offered(self, error: PollError) -> PollError:
        """Bybit's regional sites answer 404 for endpoints they do not offer: for a collector
        that is not margin data, that is a missing permission, not a broken account."""
        if error.reason == Reason.HTTP and error.status == 404 and not self.endpoint.margin:
            return PollError(Reason.PERMISSION, "HTTP 404: not offered by this Bybit site")
        return error

    def _prices(self) -> Mapping[str, float]:
        return self.prices(self.account.endpoint) if self.endpoint.needs_prices else {}

    def _record_failure(self, key: TargetKey, error: PollError, duration: float | None) -> None:
        self._kept.pop(key, None)  # the next poll asks again, whatever the evidence
        message = error.message.replace(self.account.api_key.reveal(), "***")
        self.store.record_failure(key, error.reason, duration, message)
        fields = self._fields(key, reason=error.reason, ret_code=error.ret_code,
                              ret_msg=error.message)
        if error.reason == Reason.PERMISSION:
            fields["fields"]["missing_permission"] = self.endpoint.permission
        if self._last_reason.get(key) != error.reason:
            log.warning("poll failed", extra=fields)
        else:
            log.debug("poll failed again", extra=fields)
        self._last_reason[key] = error.reason

    def _log_recovery(self, key: TargetKey, duration: float) -> None:
        fields = self._fields(key, duration_seconds=round(duration, 3))
        if self._last_reason.get(key) is not None:
            log.info("poll recovered", extra=fields)
        else:
            log.debug("poll succeeded", extra=fields)
        self._last_reason[key] = None

    def _log_unreadable(self, key: TargetKey, translation: Translation) -> None:
        names = frozenset(item.where for item in translation.unreadable)
        if names == self._last_unreadable.get(key, frozenset()):
            return
        self._last_unreadable[key] = names
        secret = self.account.api_key.reveal()
        for item in translation.unreadable:
            log.warning("unreadable field", extra=self._fields(
                key, field=item.where, value=item.preview.replace(secret, "***")))

    def _back_off(self, error: PollError) -> None:
        if error.reason in SLOW_REASONS:
            # A revoked or expired key, a missing permission, an IP not whitelisted: someone
            # must act. Retry at 2, 4, 8... intervals, at most every 10 minutes.
            self._slow_failures += 1
            delay = min(self.interval * 2 ** self._slow_failures, SLOW_BACKOFF_MAX_SECONDS)
        else:
            delay = error.retry_after or 0.0
        self.not_before = self.monotonic() + delay
        if delay:
            log.info("backing off", extra=self._fields(reason=error.reason,
                                                       seconds=round(delay, 1)))

    def _fields(self, key: TargetKey | None = None, **more: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"account": self.account.name}
        if self.endpoint.collector != "wallet":
            fields["collector"] = self.endpoint.collector
        if key is not None:
            fields.update(dict(key.labels))
        fields.update({k: v for k, v in more.items() if v is not None})
        return {"fields": fields}

