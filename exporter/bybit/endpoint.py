"""What an endpoint module declares: its request (path, parameters, Bybit's per-UID limit, how
often it is worth calling), its translation into samples (a pure function) and its families."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from exporter.account import Account
from exporter.bybit.ledger import Source
from exporter.metrics.family import COLLECTOR_HEALTH, Family, HealthFamilies
from exporter.metrics.fields import Field, Translation

Labels = tuple[tuple[str, str], ...]
Instrument = tuple[str, str]  # (category, symbol)


@dataclass(frozen=True)
class Target:
    """One thing polled for one account: the labels beyond `account` of its health series and
    of its values (the same for wallet-balance's account types; `collector` for health and
    nothing, or account_type="FUND", for the values of other collectors), and the queries."""

    labels: Labels
    queries: tuple[str, ...]
    value_labels: Labels | None = None  # None: the same as `labels`

    @property
    def values_labelled(self) -> Labels:
        return self.labels if self.value_labels is None else self.value_labels


@dataclass(frozen=True)
class Context:
    """What a translation may know besides the answers: the target's labels, USD prices, and
    the coins the account's wallet lists (None: not known)."""

    labels: Mapping[str, str]
    prices: Mapping[str, float] = field(default_factory=dict)
    wallet_coins: frozenset[str] | None = None
    expiries: Mapping[Instrument, float] = field(default_factory=dict)  # Unix seconds
    queries: tuple[str, ...] = ()  # the query of each answer, in order (when it matters)


Translate = Callable[[Sequence[Any], Context], Translation]
Example = Callable[[Callable[[Field], Any]], list[Any]]


@dataclass(frozen=True)
class Endpoint:
    collector: str  # the name in `collect:` and in the `collector` label
    path: str
    uid_limit_per_second: float  # Bybit's per-UID limit for this endpoint
    targets: Callable[[Account], tuple[Target, ...]]
    translate: Translate
    families: tuple[Family, ...]
    fields: tuple[Field, ...]  # every documented field it reads
    example: Example  # a well-formed answer whose field values come from the callback
    interval: float | None = None  # seconds; None: the account's poll_interval
    margin: bool = False  # margin data: polled every poll_interval, never stretched
    paginated: bool = False  # follows result.nextPageCursor
    needs_prices: bool = False  # translation wants USD index prices
    permission: str = "Read-Only"  # what a 10005 refusal means the key lacks
    health: HealthFamilies = COLLECTOR_HEALTH
    sources: tuple[Source, ...] = ()  # logs read incrementally into running totals
    # requests per poll at an interval with the wallet's typical evidence (queries chosen by
    # it, exporter.service.evidence); None: every query every poll
    typical_requests: Callable[[float], float] | None = None
    # a poll that asks no query keeps the last answer (True), or answers nothing (False: the
    # evidence said there is nothing to find)
    keeps_unasked: bool = False
    answer_codes: frozenset[int] = frozenset()  # retCodes that answer (no MMP), not fail
    # the instruments an answer names whose expiry the translation wants (Context.expiries)
    instruments: Callable[[Sequence[Any]], set[Instrument]] | None = None

    also_reads: tuple[str, ...] = ()  # other paths its queries name (Endpoint.request)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(source.path for source in self.sources) or (self.path, *self.also_reads)

    def requests_per_poll(self, account: Account) -> int:
        return sum(len(target.queries) for target in self.targets(account))

    def request(self, query: str) -> tuple[str, str]:
        """The path and query string of one of its queries: a query may name a path of its own
        ("/v5/asset/coin-greeks?baseCoin=BTC"), for a collector that reads two endpoints."""
        if not query.startswith("/"):
            return self.path, query
        path, _, own = query.partition("?")
        return path, own


def chosen_by_evidence(queries: int, refresh: float, typical: int = 1
                       ) -> Callable[[float], float]:
    """Requests per poll at an interval when evidence calls for `typical` of `queries` (one
    page each): those, and the others once every `refresh` seconds."""
    def per_poll(interval: float) -> float:
        return typical + (queries - typical) * min(1.0, interval / refresh)

    return per_poll


def collector_target(endpoint_name: str, *queries: str, value_labels: Labels = ()
                     ) -> Callable[[Account], tuple[Target, ...]]:
    def targets(_: Account) -> tuple[Target, ...]:
        return (Target((("collector", endpoint_name),), queries, value_labels),)

    return targets
