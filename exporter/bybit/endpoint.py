"""What an endpoint module declares: its request (path, parameters, Bybit's per-UID limit, how
often it is worth calling), its translation into samples (a pure function) and its families."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from exporter.metrics.family import COLLECTOR_HEALTH, Family, HealthFamilies
from exporter.metrics.fields import Field, Translation

if TYPE_CHECKING:
    from exporter.bybit.ledger import Source
    from exporter.account import Account


class InvalidResponse(ValueError):
    """The answer does not have the shape of the endpoint's answer: nothing of it is exported."""


Labels = tuple[tuple[str, str], ...]


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

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(source.path for source in self.sources) or (self.path,)

    def requests_per_poll(self, account: Account) -> int:
        return sum(len(target.queries) for target in self.targets(account))


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


def result_of(payload: Any) -> dict[str, Any]:
    """The `result` object of an answer, or InvalidResponse."""
    if not isinstance(payload, dict):
        raise InvalidResponse("body is not a JSON object")
    result = payload.get("result")
    if not isinstance(result, dict):
        raise InvalidResponse("result is missing")
    return result


def list_of(container: Mapping[str, Any], key: str, where: str, limit: int = 10_000,
            required: bool = True) -> list[dict[str, Any]]:
    """A list of objects under `key`; a missing list is empty unless required."""
    items = container.get(key)
    if items is None and not required:
        return []
    if not isinstance(items, list):
        raise InvalidResponse(f"{where}.{key} is not a list")
    if len(items) > limit:
        raise InvalidResponse(f"more than {limit} entries in {where}.{key}")
    if not all(isinstance(item, dict) for item in items):
        raise InvalidResponse(f"an entry of {where}.{key} is not an object")
    return items


def next_cursor(payload: Any, list_key: str = "list") -> str:
    """The cursor of the next page, exactly as Bybit gave it (already URL-encoded); "" on the
    last page: no cursor, or a page without rows."""
    result = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(result, dict) or not result.get(list_key):
        return ""
    cursor = result.get("nextPageCursor")
    return cursor if isinstance(cursor, str) else ""


def name_of(item: Mapping[str, Any], key: str, where: str) -> str:
    """An identifying name (coin, symbol...): a short printable string, or InvalidResponse."""
    name = item.get(key)
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    if not isinstance(name, str) or not name or len(name) > 64 or not name.isprintable():
        raise InvalidResponse(f"an entry of {where} has no usable {key}")
    return name


def named_entries(container: Mapping[str, Any], key: str, name_key: str, where: str,
                  limit: int = 10_000) -> Iterator[tuple[str, dict[str, Any]]]:
    """The objects of an optional list, each with its name (coin, wallet, uid...); a name
    listed twice is not an answer."""
    seen: set[str] = set()
    for item in list_of(container, key, where, limit, required=False):
        name = name_of(item, name_key, f"{where}.{key}")
        if name in seen:
            raise InvalidResponse(f"{name_key} {name} listed twice")
        seen.add(name)
        yield name, item
