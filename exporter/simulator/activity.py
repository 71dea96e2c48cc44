"""Money moving in a --demo account: ten days of history, then new transaction-log rows booked as
the server's clock reaches them (a fill every 5 s, funding every 30 s, interest every minute, a
transfer every 2 minutes, in twice for every time out), so that the exporter's money-flow counters move while one watches.
Every 4th fill arrives 45 s late; each funding row shares its id with the latest fill (as in
Bybit's own example). Rows sit on a grid of absolute time and are made from their time alone: a
restarted demo books the same rows again, which the exporter's stored totals must not count
twice. A pending deposit and a pending withdrawal succeed a minute or so in."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from exporter.simulator.accounts import SimAccount
from exporter.simulator.ledger import Amount, Ledger
from exporter.simulator.transfers import Deposit, InternalDeposit, Withdrawal

HOUR_MS, DAY_MS = 3_600_000, 86_400_000
EVERY_MS = {"trade": 5_000, "funding": 30_000, "interest": 60_000, "transfer": 120_000}
HISTORY_MS = {"trade": 2 * HOUR_MS, "funding": 8 * HOUR_MS, "interest": HOUR_MS,
              "transfer": 6 * HOUR_MS}
MAKER_EVERY = 3  # every 3rd fill is a maker's: a rebate (negative fee)
HISTORY_DAYS = 10  # more than one 7-day window of the log
LATE_EVERY, LATE_MS = 4, 45_000
SETTLED_AFTER_MS = 60_000  # the pending deposit and withdrawal succeed this long after the start


@dataclass(frozen=True)
class Plan:
    symbol: str = "BTCUSDT"
    price: float = 64000.0
    qty: str = "0.002"
    borrowed: tuple[str, str] | None = None  # (coin, amount): interest is paid on it
    transfer: str = "50"  # USDT moved in from the Funding wallet, now and then


class Activity:
    """An account's `advance` hook: books every row due by the server time it is called with."""

    def __init__(self, plan: Plan, start_ms: int) -> None:
        self.plan, self.start_ms = plan, start_ms
        self._due = {kind: _after(start_ms, every) for kind, every in EVERY_MS.items()}
        self._lock = threading.Lock()

    def history(self, ledger: Ledger) -> None:
        """Ten days of rows before the start, at the coarser pace of HISTORY_MS."""
        first = self.start_ms - HISTORY_DAYS * DAY_MS
        times = sorted((at, kind) for kind, every in HISTORY_MS.items()
                       for at in range(_after(first, every), self.start_ms, every))
        with self._lock:
            for at, kind in times:
                self._book(kind, ledger, at, HISTORY_MS, late=False)

    def __call__(self, account: SimAccount, now_ms: int) -> None:
        with self._lock:
            while (kind := self._next(now_ms)) is not None:
                self._book(kind, account.ledger, self._due[kind], EVERY_MS, late=True)
                self._due[kind] += EVERY_MS[kind]
            if now_ms >= self.start_ms + SETTLED_AFTER_MS:
                _settle(account)

    def _next(self, now_ms: int) -> str | None:
        """The kind of row due first (fills before the funding of the same time), if any."""
        kind = min(self._due, key=lambda k: (self._due[k], list(EVERY_MS).index(k)))
        return kind if self._due[kind] <= now_ms else None

    def _book(self, kind: str, ledger: Ledger, at: int, pace: dict[str, int],
              late: bool) -> None:
        """One row at `at`; made from the time alone, so that a restarted demo books the same
        rows (ids included) for the same times."""
        plan = self.plan
        if kind == "trade":
            self._trade(ledger, at, pace["trade"], late)
        elif kind == "funding":
            fill = at - at % pace["trade"]  # shares its id with the latest fill
            rate = "0.0001" if (at // pace["funding"]) % 3 else "-0.00005"  # pay, receive
            ledger.funding(at, plan.symbol, "Buy", plan.qty, f"{self._price(at):.2f}", rate,
                           row_id=_fill_id(plan, fill))
        elif kind == "interest" and plan.borrowed:
            coin, amount = plan.borrowed
            ledger.interest(at, coin, f"{float(amount) * 0.0000025:.8f}")
        elif kind == "transfer" and (at // pace["transfer"]) % 3:
            ledger.transfer_in(at, "USDT", plan.transfer)
        elif kind == "transfer":
            ledger.transfer_out(at, "USDT", plan.transfer)

    def _trade(self, ledger: Ledger, at: int, every: int, late: bool) -> None:
        """Buy, then sell the same quantity, realising a profit and a loss in turn; every 3rd
        fill a maker's, with a rebate."""
        plan, number = self.plan, at // every
        price, selling = round(self._price(at), 2), number % 2 == 1
        move = abs(price - round(self._price(at - every), 2)) or 1.0
        pnl = float(plan.qty) * move * (1 if number % 4 == 1 else -1)
        ledger.trade(at, plan.symbol, "Sell" if selling else "Buy", plan.qty, f"{price:.2f}",
                     fee_rate="-0.0001" if number % MAKER_EVERY == 0 else "0.00055",
                     cash_flow=f"{pnl:.8f}" if selling else "0", row_id=_fill_id(plan, at),
                     late_ms=LATE_MS if late and number % LATE_EVERY == 0 else 0)

    def _price(self, at: int) -> float:
        return self.plan.price * (1 + 0.01 * math.sin(at / 97_000))


def _after(ms: int, every: int) -> int:
    """The first multiple of `every` after `ms`: rows sit on a grid of absolute time."""
    return ms - ms % every + every


def _fill_id(plan: Plan, at: int) -> str:
    return f"{at // 1000 % 10_000_000}_{plan.symbol}_{at}"


def _settle(account: SimAccount) -> None:
    for deposit in account.deposits:
        if deposit.status == 2:
            deposit.status = 3
    for withdrawal in account.withdrawals:
        if withdrawal.status == "Pending":
            withdrawal.status = "success"


def fund(account: SimAccount, plan: Plan, start_ms: int, balances: dict[str, Amount],
         transfers: bool = False) -> None:
    """Give a demo account its money flows: the log's history and hook; with `transfers`, also
    deposits (one still processing) and withdrawals (one on-chain, one off-chain, one pending)."""
    account.ledger = Ledger(balances)
    activity = Activity(plan, start_ms)
    activity.history(account.ledger)
    account.advance = activity
    if not transfers:
        return
    account.deposits += [Deposit("USDT", "2500", start_ms - 6 * DAY_MS),
                         Deposit("BTC", "0.05", start_ms - 2 * DAY_MS, deposit_fee="0.0001"),
                         Deposit("ETH", "1.5", start_ms - DAY_MS, status=4),
                         Deposit("USDT", "300", start_ms - 3 * HOUR_MS),
                         Deposit("USDT", "750", start_ms - 5 * 60_000, status=2)]
    account.internal_deposits.append(InternalDeposit("USDT", "120", start_ms - 3 * DAY_MS))
    account.withdrawals += [Withdrawal("USDT", "400", start_ms - 4 * DAY_MS, withdraw_fee="1"),
                            Withdrawal("USDT", "60", start_ms - DAY_MS, off_chain=True),
                            Withdrawal("USDT", "25", start_ms - 2 * HOUR_MS, withdraw_fee="1"),
                            Withdrawal("ETH", "0.2", start_ms - 60_000, status="Pending",
                                       withdraw_fee="0.0003")]
