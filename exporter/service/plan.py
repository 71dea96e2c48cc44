"""How often each collector of each account is polled, so that the whole config fits the per-IP
request budget: margin data always every poll_interval; the slow collectors (key, margin mode,
wallets) are stretched first when a config needs more than the budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from exporter.account import Account
from exporter.bybit.budget import MAX_REQUESTS, WINDOW_SECONDS
from exporter.bybit.endpoints import BY_COLLECTOR

BUDGET_PER_SECOND = MAX_REQUESTS / WINDOW_SECONDS


@dataclass(frozen=True)
class Plan:
    intervals: dict[tuple[str, str], float]  # (account, collector) -> interval in force
    margin_rate: float  # requests per second that are never stretched
    wanted_rate: float  # requests per second at every collector's own interval
    planned_rate: float  # after stretching
    stretch: float  # factor applied to the slow collectors' intervals (1: none)

    budget: float = BUDGET_PER_SECOND  # requests per second this process may send
    worst_margin_rate: float = 0.0  # margin data with positions in every category

    @property
    def fits(self) -> bool:
        return self.planned_rate <= self.budget + 1e-9

    def interval(self, account: str, collector: str) -> float:
        return self.intervals[(account, collector)]


def own_interval(account: Account, collector: str) -> float:
    """The interval the config asks for (never below poll_interval), else the collector's."""
    endpoint, asked = BY_COLLECTOR[collector], account.interval_asked(collector)
    if asked is not None:
        return max(asked, account.poll_interval)
    if endpoint.margin or endpoint.interval is None:
        return account.poll_interval
    return max(endpoint.interval, account.poll_interval)


def requests_per_poll(account: Account, collector: str, worst: bool = False) -> float:
    """Requests one poll sends. Positions and orders, with the wallet's evidence: typically
    the one query where the account trades (the others every five minutes); in the worst
    case, or without the wallet collector, all of them."""
    endpoint = BY_COLLECTOR[collector]
    if endpoint.typical_requests is None or worst or "wallet" not in account.collect:
        return float(endpoint.requests_per_poll(account))
    return endpoint.typical_requests(own_interval(account, collector))


def plan(accounts: Iterable[Account], budget_per_second: float = BUDGET_PER_SECOND) -> Plan:
    accounts = tuple(accounts)
    margin = slow = worst = 0.0
    for account in accounts:
        for collector in account.collect:
            interval = own_interval(account, collector)
            rate = requests_per_poll(account, collector) / interval
            if BY_COLLECTOR[collector].margin:
                margin += rate
                worst += requests_per_poll(account, collector, worst=True) / interval
            else:
                slow += rate
    room = budget_per_second - margin
    stretch = 1.0 if slow <= max(room, 0.0) else (slow / room if room > 0 else float("inf"))
    stretch = min(stretch, 1000.0)  # never more than a thousand times slower: still polled
    intervals = {(a.name, c): own_interval(a, c) * (1.0 if BY_COLLECTOR[c].margin else stretch)
                 for a in accounts for c in a.collect}
    return Plan(intervals, margin, margin + slow, margin + slow / stretch, stretch,
                budget_per_second, worst)


def describe(result: Plan) -> str:
    """For --config.check: the request rate the config needs against the budget."""
    per_window = WINDOW_SECONDS
    line = (f"requests: {result.wanted_rate * per_window:.1f} per {per_window:g} s wanted "
            f"({result.margin_rate * per_window:.1f} for margin data with typical evidence, "
            f"positions in one settle coin; "
            f"{result.worst_margin_rate * per_window:.1f} in the worst case, positions in every "
            f"category), budget {result.budget * per_window:g} per {per_window:g} s")
    if result.stretch > 1:
        line += (f"; slow collectors stretched {result.stretch:.2f}x to "
                 f"{result.planned_rate * per_window:.1f}")
    if not result.fits:
        line += "; DOES NOT FIT: margin polls alone exceed the budget and will be delayed"
    elif result.worst_margin_rate > result.budget + 1e-9:
        line += ("; in the worst case margin polls exceed the budget and are delayed, the "
                 "slow collectors first")
    return line
