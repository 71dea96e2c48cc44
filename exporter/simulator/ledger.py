"""A Unified account's transaction log (`/v5/account/transaction-log`): rows shaped as Bybit
sends them, kept in the order they were booked, some of them arriving late."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

Amount = Decimal | str | int | float  # floats go through str(): 0.1 stays 0.1
EIGHT = Decimal("0.00000001")


def dec(value: Amount) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def text(value: Decimal | None) -> str:
    """A number as Bybit writes it; None (not applicable) as ""."""
    return "" if value is None else format(value, "f")


@dataclass(frozen=True)
class LedgerRow:
    """One row of the log. `change` None: worked out as cashFlow + funding - fee when booked;
    `cash_balance` None: the coin's running balance after the row, worked out when booked."""
    id: str
    type: str  # TRADE, SETTLEMENT, INTEREST, TRANSFER_IN, TRANSFER_OUT, ...
    currency: str
    time_ms: int  # transactionTime: the row belongs to a time window by this
    cash_flow: Decimal = Decimal(0)
    funding: Decimal | None = None  # None: "" (trade rows); > 0 received, < 0 paid
    fee: Decimal | None = None  # None: ""; > 0 paid, < 0 rebate
    change: Decimal | None = None
    cash_balance: Decimal | None = None
    category: str = ""  # spot, linear, inverse, option; "" on interest and transfer rows
    symbol: str = ""
    side: str = "None"
    fee_rate: str = ""  # the fee rate on trades, the funding rate on settlements
    size: str = ""
    qty: str = ""
    trade_price: str = ""
    order_id: str = ""
    order_link_id: str = ""
    trade_id: str = ""
    bonus_change: str = ""
    extra_fees: str = ""
    trans_sub_type: str = ""
    visible_from_ms: int | None = None  # arrives late: not served before this server time

    def visible(self, now_ms: int) -> bool:
        return self.visible_from_ms is None or self.visible_from_ms <= now_ms

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id, "symbol": self.symbol, "category": self.category, "side": self.side,
            "funding": text(self.funding), "orderLinkId": self.order_link_id,
            "orderId": self.order_id, "fee": text(self.fee), "change": text(self.change),
            "cashFlow": text(self.cash_flow), "transactionTime": str(self.time_ms),
            "type": self.type, "feeRate": self.fee_rate, "bonusChange": self.bonus_change,
            "size": self.size, "qty": self.qty, "cashBalance": text(self.cash_balance),
            "currency": self.currency, "tradePrice": self.trade_price, "tradeId": self.trade_id,
            "extraFees": self.extra_fees, "transSubType": self.trans_sub_type,
        }


class Ledger:
    """The rows booked so far; safe to add to while the server reads it. Every helper books one
    row and returns it; `late_ms` makes the row arrive that long after its transactionTime."""

    def __init__(self, balances: dict[str, Amount] | None = None) -> None:
        self._rows: list[LedgerRow] = []
        self._balances = {coin: dec(v) for coin, v in (balances or {}).items()}
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)  # for made-up order and trade ids

    def add(self, row: LedgerRow) -> LedgerRow:
        with self._lock:
            change = row.change
            if change is None:
                change = row.cash_flow + (row.funding or 0) - (row.fee or 0)
            balance = self._balances.get(row.currency, Decimal(0)) + change
            self._balances[row.currency] = balance
            if row.cash_balance is None:
                row = replace(row, cash_balance=balance.quantize(EIGHT))
            row = replace(row, change=change)
            self._rows.append(row)
            return row

    def rows(self) -> list[LedgerRow]:
        """Every row booked, in booking order (the index is the row's place in it)."""
        with self._lock:
            return list(self._rows)

    def balance(self, currency: str) -> Decimal:
        with self._lock:
            return self._balances.get(currency, Decimal(0))

    def trade(self, time_ms: int, symbol: str, side: str, qty: Amount, price: Amount,
              fee_rate: Amount = "0.00055", cash_flow: Amount = 0, currency: str = "USDT",
              category: str = "linear", row_id: str | None = None,
              late_ms: int = 0) -> LedgerRow:
        """A fill: the fee is qty x price x fee_rate; `cash_flow` the PnL it realised."""
        quantity, fill, rate = dec(qty), dec(price), dec(fee_rate)
        number = next(self._numbers)
        return self.add(LedgerRow(
            id=row_id or f"{time_ms}_{symbol}_{number}", type="TRADE", currency=currency,
            time_ms=time_ms, cash_flow=dec(cash_flow),
            fee=(quantity * fill * rate).quantize(EIGHT), category=category, symbol=symbol,
            side=side, fee_rate=str(rate), size=str(quantity), qty=str(quantity),
            trade_price=str(fill), order_id=f"order-{time_ms}-{number}",
            trade_id=f"trade-{time_ms}-{number}", bonus_change="",
            visible_from_ms=time_ms + late_ms if late_ms else None))

    def funding(self, time_ms: int, symbol: str, side: str, size: Amount, price: Amount,
                rate: Amount, currency: str = "USDT", row_id: str | None = None,
                late_ms: int = 0) -> LedgerRow:
        """A funding settlement: a long pays (a short receives) size x price x rate."""
        amount = (dec(size) * dec(price) * dec(rate)).quantize(EIGHT)
        received = amount if side == "Sell" else -amount
        return self.add(LedgerRow(
            id=row_id or f"{time_ms}_{symbol}_settle", type="SETTLEMENT", currency=currency,
            time_ms=time_ms, funding=received, fee=Decimal("0.00000000"), category="linear",
            symbol=symbol, side=side, fee_rate=str(dec(rate)), size=str(dec(size)), qty="0",
            trade_price=str(dec(price)), order_id=f"{time_ms}-settle",
            visible_from_ms=time_ms + late_ms if late_ms else None))

    def interest(self, time_ms: int, currency: str, paid: Amount,
                 row_id: str | None = None) -> LedgerRow:
        """Interest paid on a borrowed coin: a negative cashFlow, funding "0"."""
        return self.add(LedgerRow(
            id=row_id or f"L-I-I-{time_ms}-{currency}", type="INTEREST", currency=currency,
            time_ms=time_ms, cash_flow=-dec(paid), funding=Decimal(0), fee=Decimal(0)))

    def transfer_in(self, time_ms: int, currency: str, amount: Amount,
                    row_id: str | None = None) -> LedgerRow:
        return self._transfer("TRANSFER_IN", time_ms, currency, dec(amount), row_id)

    def transfer_out(self, time_ms: int, currency: str, amount: Amount,
                     row_id: str | None = None) -> LedgerRow:
        return self._transfer("TRANSFER_OUT", time_ms, currency, -dec(amount), row_id)

    def _transfer(self, kind: str, time_ms: int, currency: str, amount: Decimal,
                  row_id: str | None) -> LedgerRow:
        return self.add(LedgerRow(id=row_id or f"{kind}-{time_ms}-{currency}", type=kind,
                                  currency=currency, time_ms=time_ms, cash_flow=amount))
