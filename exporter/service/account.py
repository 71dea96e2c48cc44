"""One account's running parts, owned by one object: its HTTP session and client, and a poller
and a schedule per collector. Stopping it stops its jobs and closes its session."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping

from exporter.account import Account
from exporter.bybit.budget import RequestBudget
from exporter.bybit.client import BybitClient, environ_proxies, new_session
from exporter.bybit.clock import ServerClock
from exporter.bybit.endpoints import BY_COLLECTOR
from exporter.bybit.instruments import Expiries, no_expiries
from exporter.service.ledger_poller import LedgerPoller
from exporter.service.ledger_state import LedgerFiles
from exporter.service.evidence import (BaseCoinQueries, OptionBook, WalletEvidence, both,
                                       option_queries, order_queries, position_queries)
from exporter.service.poller import Poller, Prices
from exporter.service.scheduling import DRIFT_FRACTION, PollScheduler, spread
from exporter.service.store import Store, TargetKey, TargetSpec


WALLET, MARGIN, SLOW = PHASES = ("wallet", "margin", "slow")
# Once the runs have settled on their phases, each start phase of an account comes this share of
# the interval after the one before (1.5 s at 30 s): its positions poll comes once its wallet
# poll has answered, and finds the evidence of that answer.
PHASE_STEP = 0.05


def phase_of(collector: str) -> str:
    if collector == "wallet":
        return WALLET
    return MARGIN if BY_COLLECTOR[collector].margin else SLOW


class Hosts:
    """What every account on one Bybit host shares: its measured clock, and the proxies the
    environment names for it, read once per host rather than once per account's session (75
    ms at a thousand accounts, which held their first polls back)."""

    def __init__(self, proxies: Callable[[str], dict[str, str]] = environ_proxies) -> None:
        self._hosts: dict[str, tuple[ServerClock, dict[str, str]]] = {}
        self._read_proxies = proxies
        self._lock = threading.Lock()

    def clock(self, endpoint: str) -> ServerClock:
        return self._host(endpoint)[0]

    def proxies(self, endpoint: str) -> dict[str, str]:
        return self._host(endpoint)[1]

    def _host(self, endpoint: str) -> tuple[ServerClock, dict[str, str]]:
        with self._lock:
            if endpoint not in self._hosts:
                self._hosts[endpoint] = (ServerClock(endpoint), self._read_proxies(endpoint))
            return self._hosts[endpoint]


@dataclass(frozen=True)
class Shared:
    """What every account's parts use."""

    budget: RequestBudget
    store: Store
    scheduler: PollScheduler
    hosts: Hosts
    prices: Prices
    timeout: float
    # running totals, in --storage.path or memory
    ledgers: LedgerFiles = field(default_factory=lambda: LedgerFiles(None))
    expiries: Expiries = no_expiries  # when options and dated futures expire, per host


class AccountRunner:
    def __init__(self, account: Account, intervals: Mapping[str, float], shared: Shared):
        self.account = account
        self.intervals = dict(intervals)  # collector -> interval in force
        self.shared = shared
        endpoint = account.endpoint
        self.client = BybitClient(account, shared.hosts.clock(endpoint), shared.budget,
                                  shared.timeout,
                                  new_session(endpoint, shared.hosts.proxies(endpoint)))
        self.ledger = shared.ledgers.of(account.name)
        self.pollers = {collector: self._poller(collector, interval)
                        for collector, interval in self.intervals.items()}
        self._connect_evidence()

    def _connect_evidence(self) -> None:
        """Positions, orders, options and MMP are asked where the evidence calls for them, and
        borrowing reads the wallet's coins (exporter.service.evidence). Without the wallet
        collector every position and order query is asked every time."""
        found = {name: self.pollers.get(name)
                 for name in ("wallet", "positions", "orders", "options", "mmp")}
        wallet, positions, orders, options, mmp = found.values()
        evidence = None
        if wallet is not None:
            evidence = WalletEvidence(self.account.account_types, not self.account.coins,
                                      self._max_age(wallet))
            wallet.observe = evidence.observe
            for poller in self.pollers.values():
                poller.wallet_coins = evidence.coins
        book = OptionBook(greeks_watched=options is not None)
        held = None
        if positions is not None and evidence is not None:
            held = position_queries(evidence, self._max_age(positions), book)
            positions.observe, positions.choose = held.observe, held
        if orders is not None:
            chosen = order_queries(evidence, held, self._max_age(orders))
            orders.observe, orders.choose = chosen.observe, chosen
        self._connect_options(book, positions, options, mmp)

    def _connect_options(self, book: OptionBook, positions: Poller | None,
                         options: Poller | None, mmp: Poller | None) -> None:
        if positions is not None:
            positions.observe = both(positions.observe, book.observe_positions)
        if options is not None:
            chosen = option_queries(book, self._max_age(options))
            options.observe, options.choose = both(chosen.observe, book.observe_greeks), chosen
        if mmp is not None:
            mmp.choose = BaseCoinQueries(book)

    def _max_age(self, poller: Poller) -> float:
        """How long a poller's answers are evidence: one interval, its drift and a timeout."""
        return poller.interval * (1 + DRIFT_FRACTION) + self.shared.timeout

    def _poller(self, collector: str, interval: float) -> Poller:
        endpoint = BY_COLLECTOR[collector]
        if endpoint.sources:
            # transactions_since backfills every money-flow log, deposits' included
            return LedgerPoller(endpoint, self.client, self.shared.store, interval, self.ledger,
                                self.account.transactions_since, self.shared.prices)
        poller = Poller(endpoint, self.client, self.shared.store, interval, self.shared.prices)
        poller.expiries = self.shared.expiries
        return poller

    def job_id(self, collector: str) -> str:
        return f"{self.account.name}/{collector}"

    def targets(self) -> dict[TargetKey, TargetSpec]:
        return {poller.key(target): TargetSpec(poller.endpoint.health, poller.interval,
                                               target.values_labelled)
                for poller in self.pollers.values()
                for target in poller.endpoint.targets(self.account)}

    def start(self, phase: str) -> None:
        """Schedule the collectors of one start phase (PHASES). Every first poll is due at once
        and jobs run in the order they fell due: the caller starts every account's wallet,
        then every account's other margin collectors, then the slow ones, so that on a start
        with hundreds of accounts, which the request budget serves over tens of seconds, the
        first interval goes to margin data, and positions find the wallet's evidence."""
        settled = (spread(self.account.name) + PHASE_STEP * PHASES.index(phase)) % 1.0
        for collector, poller in self.pollers.items():
            if phase_of(collector) == phase:
                self.shared.scheduler.add(self.job_id(collector), poller.poll, poller.interval,
                                          slow=phase == SLOW, phase=settled)

    def stop(self) -> None:
        for collector in self.pollers:
            self.shared.scheduler.remove(self.job_id(collector))
        self.client.close()

    def same_as(self, account: Account, intervals: Mapping[str, float], timeout: float) -> bool:
        return (account, dict(intervals), timeout) == (self.account, self.intervals,
                                                       self.shared.timeout)
