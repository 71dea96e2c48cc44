"""Ask only where something can be found. The account's latest wallet-balance answers say, per
coin, whether there is position margin, order margin or coins locked by spot orders; the
positions poller asks the queries that this evidence calls for, the orders poller those where
positions are held, orders hold margin or coins are locked; the borrowing collector reads the
coins the wallet lists. Every query is still asked at least every five minutes, and all of
them whenever the evidence is missing or older than one interval."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Sequence

from exporter.bybit.endpoint import Target
from exporter.bybit.endpoints import mmp, options, orders, positions, wallet
from exporter.bybit.endpoints.wallet import CoinEvidence

Answers = Sequence[tuple[str, Any]]  # (query, payload) of every page a poll fetched


class WalletEvidence:
    """What the wallet answers of one account say, per account type, and when they said it."""

    def __init__(self, account_types: Sequence[str], complete: bool, max_age: float,
                 monotonic: Callable[[], float] = time.monotonic):
        self.account_types = tuple(account_types)
        self.complete = complete  # the answers list every coin (no `coins:` filter)
        self.max_age = max_age
        self.monotonic = monotonic
        self._seen: dict[str, tuple[float, dict[str, CoinEvidence]]] = {}
        self._lock = threading.Lock()

    def observe(self, target: Target, answers: Answers) -> None:
        """A wallet poll's well-formed answer (the wallet poller's hook)."""
        account_type = dict(target.labels).get("account_type", "")
        found = wallet.coin_evidence([payload for _, payload in answers])
        with self._lock:
            self._seen[account_type] = (self.monotonic(), found)

    def current(self) -> dict[str, CoinEvidence] | None:
        """Every account type's evidence merged (per coin and fact: yes if any type says so,
        unknown if any does not know), or None when one is missing or too old."""
        now = self.monotonic()
        merged: dict[str, CoinEvidence] = {}
        with self._lock:
            seen = dict(self._seen)
        for account_type in self.account_types:
            found = seen.get(account_type)
            if found is None or now - found[0] > self.max_age:
                return None
            for coin, facts in found[1].items():
                before = merged.get(coin, wallet.NOT_LISTED)
                merged[coin] = CoinEvidence(*map(_either, before, facts))
        return merged

    def coins(self) -> frozenset[str] | None:
        """The coins the latest answers list, however old; None before the first."""
        with self._lock:
            if not self._seen:
                return None
            return frozenset(coin for _, found in self._seen.values() for coin in found)


def _either(a: bool | None, b: bool | None) -> bool | None:
    return True if True in (a, b) else (None if None in (a, b) else False)


class ChosenQueries:
    """One poller's choice of queries, for one account: those the evidence calls for (`called`
    answers None when it has none: every query), those whose last answer listed something (the
    evidence is not trusted to end what the exporter sees: asked again until it lists none),
    and every query at least every `refresh` seconds."""

    def __init__(self, called: Callable[[], set[str] | None], lists_any: Callable[[Any], bool],
                 refresh: float, max_age: float, monotonic: Callable[[], float] = time.monotonic,
                 first: tuple[str, ...] = ()):
        self.called = called
        self.first = first  # asked on the first poll: what the evidence can never rule out
        self.lists_any = lists_any
        self.refresh = refresh
        self.max_age = max_age  # holding() is not trusted once older than this
        self.monotonic = monotonic
        self._last_asked: dict[str, float] = {}  # a query never asked: since the first poll
        self._first: float | None = None
        self._holding: set[str] = set()  # queries whose last answer listed something
        self._answered: float | None = None

    def observe(self, _: Target, answers: Answers) -> None:
        """A poll's well-formed answer (the poller's hook)."""
        asked = {query for query, _ in answers}
        holding = {query for query, payload in answers if self.lists_any(payload)}
        self._holding = (self._holding - asked) | holding
        self._answered = self.monotonic()

    def holding(self) -> set[str] | None:
        """The queries whose last answer listed something; None before an answer, or when the
        last one is older than max_age."""
        if self._answered is None or self.monotonic() - self._answered > self.max_age:
            return None
        return set(self._holding)

    def __call__(self, target: Target) -> tuple[str, ...]:
        now = self.monotonic()
        first = self._first is None
        since = self._first = now if self._first is None else self._first
        called = self.called()
        wanted = set(target.queries) if called is None else called | self._holding
        if first:
            wanted |= set(self.first)
        chosen = tuple(query for query in target.queries if query in wanted
                       or now - self._last_asked.get(query, since) >= self.refresh)
        for query in chosen:
            self._last_asked[query] = now
        return chosen


def position_queries(evidence: WalletEvidence, max_age: float, book: OptionBook,
                     monotonic: Callable[[], float] = time.monotonic) -> ChosenQueries:
    """The positions poller's choice: settle coins with position margin, or unknown; options
    where the account's greeks say it holds some. Where nobody watches the greeks, options are
    asked on the first poll instead (so that a start does not cost every account one request
    more before margin data: the options collector asks the greeks right after)."""
    def called() -> set[str] | None:
        found = evidence.current()
        if found is None:
            return None
        wanted = positions.queries_called_for(
            {coin: facts.position_margin for coin, facts in found.items()}, evidence.complete)
        return wanted | {positions.OPTION} if book.greeks_held() else wanted

    first = () if book.greeks_watched else positions.UNKNOWABLE
    return ChosenQueries(called, positions.lists_open, positions.REFRESH_SECONDS, max_age,
                         monotonic, first=first)


def order_queries(evidence: WalletEvidence | None, held: ChosenQueries | None, max_age: float,
                  monotonic: Callable[[], float] = time.monotonic) -> ChosenQueries:
    """The orders poller's choice: where positions are held (`held`: the positions poller's
    choice), orders hold margin or spot orders lock coins."""
    def called() -> set[str] | None:
        found = evidence.current() if evidence is not None else None
        holding = held.holding() if held is not None else None
        return orders.queries_called_for(holding, found, evidence is None or evidence.complete)

    return ChosenQueries(called, orders.lists_any, orders.REFRESH_SECONDS, max_age, monotonic)


class OptionBook:
    """Where the account holds options: the base coins of its open option positions (the
    positions poller's option query) and those its coin greeks are not 0 in (the options
    poller); None until either has answered."""

    def __init__(self, greeks_watched: bool = False) -> None:
        self.greeks_watched = greeks_watched  # the options collector polls the account's greeks
        self._by_positions: set[str] | None = None
        self._by_greeks: set[str] | None = None
        self._lock = threading.Lock()

    def observe_positions(self, _: Target, answers: Answers) -> None:
        rows = [payload for query, payload in answers if query == positions.OPTION]
        if any(query == positions.OPTION for query, _ in answers):  # else: not asked now
            coins = {symbol.split("-", 1)[0] for symbol in positions.open_symbols(rows)}
            with self._lock:
                self._by_positions = coins

    def observe_greeks(self, _: Target, answers: Answers) -> None:
        coins = set().union(*(options.greeks_held(payload) for _, payload in answers))
        if any(query == options.GREEKS_PATH for query, _ in answers):
            with self._lock:
                self._by_greeks = coins

    def greeks_held(self) -> bool:
        """Whether the last coin-greeks answer gives a base coin a greek other than 0."""
        with self._lock:
            return bool(self._by_greeks)

    def base_coins(self) -> set[str] | None:
        with self._lock:
            if self._by_positions is None and self._by_greeks is None:
                return None
            return (self._by_positions or set()) | (self._by_greeks or set())


def option_queries(book: OptionBook, max_age: float,
                   monotonic: Callable[[], float] = time.monotonic) -> ChosenQueries:
    """The options poller's choice: both answers at once at start, then every poll while
    options are held, and every 5 minutes otherwise."""
    def called() -> set[str] | None:
        coins = book.base_coins()
        return None if coins is None else (set(options.QUERIES) if coins else set())

    return ChosenQueries(called, options.lists_any, options.REFRESH_SECONDS, max_age, monotonic,
                         first=options.QUERIES)


class BaseCoinQueries:
    """The MMP poller's choice: every base coin the account holds options in, every poll while
    it holds any; the coins asked before, every 5 minutes, while it holds none; nothing where
    it never held options."""

    def __init__(self, book: OptionBook, monotonic: Callable[[], float] = time.monotonic):
        self.book = book
        self.monotonic = monotonic
        self._asked: set[str] = set()
        self._last: float | None = None

    def __call__(self, _: Target) -> tuple[str, ...]:
        held, now = self.book.base_coins() or set(), self.monotonic()
        due = self._last is None or now - self._last >= mmp.REFRESH_SECONDS
        if not held and not due:
            return ()
        self._asked |= held
        self._last = now
        return tuple(map(mmp.query_of, sorted(self._asked)))


Observer = Callable[[Target, Answers], None]


def both(first: Observer | None, second: Observer) -> Observer:
    """One hook that shows an answer to two observers."""
    if first is None:
        return second

    def observe(target: Target, answers: Answers) -> None:
        first(target, answers)
        second(target, answers)

    return observe
