"""Ask for positions only where they can be: the account's latest wallet-balance answers say,
per settle coin, whether there is position margin; the positions poller asks the queries that
this evidence calls for, and every query at least every five minutes, and all of them whenever
the evidence is missing or older than one interval."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping, Sequence

from exporter.bybit.endpoint import Target
from exporter.bybit.endpoints import positions, wallet

Evidence = Mapping[str, "bool | None"]  # coin -> position margin: yes, no, unknown (None)


class MarginEvidence:
    """What the wallet answers of one account say, per account type, and when they said it."""

    def __init__(self, account_types: Sequence[str], complete: bool, max_age: float,
                 monotonic: Callable[[], float] = time.monotonic):
        self.account_types = tuple(account_types)
        self.complete = complete  # the answers list every coin (no `coins:` filter)
        self.max_age = max_age
        self.monotonic = monotonic
        self._seen: dict[str, tuple[float, dict[str, bool | None]]] = {}
        self._lock = threading.Lock()

    def observe(self, target: Target, answers: Sequence[tuple[str, Any]]) -> None:
        """A wallet poll's well-formed answer (the wallet poller's hook)."""
        account_type = dict(target.labels).get("account_type", "")
        found = wallet.margin_evidence([payload for _, payload in answers])
        with self._lock:
            self._seen[account_type] = (self.monotonic(), found)

    def current(self) -> dict[str, bool | None] | None:
        """Every account type's evidence merged (a coin has margin if any type says so,
        unknown if any does not know), or None when one is missing or too old."""
        now = self.monotonic()
        merged: dict[str, bool | None] = {}
        with self._lock:
            seen = dict(self._seen)
        for account_type in self.account_types:
            found = seen.get(account_type)
            if found is None or now - found[0] > self.max_age:
                return None
            for coin, state in found[1].items():
                before = merged.get(coin, False)
                merged[coin] = True if True in (before, state) else (
                    None if None in (before, state) else False)
        return merged


class PositionQueries:
    """The positions poller's choice of queries, for one account: what the evidence calls
    for, what last found an open position (the evidence is not trusted to end a position
    the exporter sees: it is asked again until it answers none), and every query at least
    every REFRESH_SECONDS."""

    def __init__(self, evidence: MarginEvidence, monotonic: Callable[[], float] = time.monotonic):
        self.evidence = evidence
        self.monotonic = monotonic
        self._last_asked: dict[str, float] = {}  # a query never asked: since the first poll
        self._first: float | None = None
        self._holding: set[str] = set()  # queries whose last answer listed an open position

    def observe(self, _: Target, answers: Sequence[tuple[str, Any]]) -> None:
        """A positions poll's well-formed answer (the positions poller's hook)."""
        asked = {query for query, _ in answers}
        holding = {query for query, payload in answers if positions.lists_open(payload)}
        self._holding = (self._holding - asked) | holding

    def __call__(self, target: Target) -> tuple[str, ...]:
        now = self.monotonic()
        if self._first is None:
            self._first = now
        found = self.evidence.current()
        called = set(target.queries) if found is None else \
            positions.queries_called_for(found, self.evidence.complete) | self._holding
        chosen = tuple(query for query in target.queries if query in called
                       or now - self._last_asked.get(query, self._first)
                       >= positions.REFRESH_SECONDS)
        for query in chosen:
            self._last_asked[query] = now
        return chosen
