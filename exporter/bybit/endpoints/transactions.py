"""`GET /v5/account/transaction-log?accountType=UNIFIED`: every money movement of the Unified
account, read incrementally into running totals of fees, funding, interest, realised PnL and
transfers (signs as Bybit's Unified log gives them; see bybit/ledger.py for the reading)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping

from exporter.bybit.endpoint import Endpoint, collector_target
from exporter.bybit.ledger import (DAY_MS, Entry, Increment, Source, by_sign, counter, identity,
                                   millis, translation_of)
from exporter.metrics.fields import Field, Reader, amount, text

FEES_PAID = counter("bybit_trading_fees_paid_total",
                    "Trading fees paid, in the coin (transaction log rows with fee > 0).",
                    "coin", "category")
FEE_REBATES = counter("bybit_trading_fee_rebates_total",
                      "Maker rebates received, in the coin (rows with fee < 0, as a positive "
                      "amount).", "coin", "category")
FUNDING_PAID = counter("bybit_funding_paid_total",
                       "Funding paid, in the coin (SETTLEMENT rows with funding < 0).", "coin")
FUNDING_RECEIVED = counter("bybit_funding_received_total",
                           "Funding received, in the coin (SETTLEMENT rows with funding > 0).",
                           "coin")
INTEREST_PAID = counter("bybit_interest_paid_total",
                        "Borrow interest paid, in the coin (INTEREST rows, cashFlow < 0).", "coin")
REALISED_PROFIT = counter("bybit_realised_profit_total",
                          "Realised profit, in the coin: cashFlow > 0 of TRADE, DELIVERY, "
                          "LIQUIDATION and ADL rows (fees and funding are not in it).",
                          "coin", "category")
REALISED_LOSS = counter("bybit_realised_loss_total",
                        "Realised loss, in the coin: cashFlow < 0 of TRADE, DELIVERY, "
                        "LIQUIDATION and ADL rows, as a positive amount.", "coin", "category")
TRANSFERS_IN = counter("bybit_transfers_in_total",
                       "Money transferred into the Unified account, in the coin (TRANSFER_IN).",
                       "coin")
TRANSFERS_OUT = counter("bybit_transfers_out_total",
                        "Money transferred out of the Unified account, in the coin "
                        "(TRANSFER_OUT), as a positive amount.", "coin")
CHANGE_IN = counter("bybit_transaction_change_in_total",
                    "Every row's change > 0, by row type, in the coin: nothing is left out, "
                    "types Bybit adds later included.", "coin", "type")
CHANGE_OUT = counter("bybit_transaction_change_out_total",
                     "Every row's change < 0, by row type, in the coin, as a positive amount.",
                     "coin", "type")
TRANSACTIONS = counter("bybit_transactions_total", "Transaction log rows counted, by type.",
                       "type")
FAMILIES = (FEES_PAID, FEE_REBATES, FUNDING_PAID, FUNDING_RECEIVED, INTEREST_PAID,
            REALISED_PROFIT, REALISED_LOSS, TRANSFERS_IN, TRANSFERS_OUT, CHANGE_IN, CHANGE_OUT,
            TRANSACTIONS)

CATEGORY = Field("category", text)
FEE = Field("fee", amount)
FUNDING = Field("funding", amount)
CASH_FLOW = Field("cashFlow", amount)
CHANGE = Field("change", amount)
FIELDS = (CATEGORY, FEE, FUNDING, CASH_FLOW, CHANGE)
IDENTITY = ("id", "type", "currency")  # with transactionTime: Bybit reuses ids across types
PNL_TYPES = frozenset({"TRADE", "DELIVERY", "LIQUIDATION", "ADL"})
TRANSFERS = {"TRANSFER_IN": TRANSFERS_IN, "TRANSFER_OUT": TRANSFERS_OUT}
QUERY = "accountType=UNIFIED&limit=50"


def entry(row: Mapping[str, Any], reader: Reader, where: str) -> Entry | None:
    ident = identity(row, reader, where, IDENTITY)
    time_ms = millis(row, reader, where, "transactionTime") if ident is not None else None
    if ident is None or time_ms is None:
        return None
    row_id, kind, coin = ident
    return Entry(f"{row_id}|{kind}|{time_ms}|{coin}", time_ms,
                 tuple(_increments(row, reader, where, kind, coin)))


def _increments(row: Mapping[str, Any], reader: Reader, where: str, kind: str, coin: str
                ) -> Iterator[Increment]:
    category = reader.read(row, CATEGORY, where) or ""
    fee, change = reader.read(row, FEE, where), reader.read(row, CHANGE, where)
    funding, cash_flow = reader.read(row, FUNDING, where), reader.read(row, CASH_FLOW, where)
    yield Increment(TRANSACTIONS, (kind,), Decimal(1))
    yield from by_sign(fee, (FEES_PAID, (coin, category)), (FEE_REBATES, (coin, category)))
    yield from by_sign(change, (CHANGE_IN, (coin, kind)), (CHANGE_OUT, (coin, kind)))
    if kind == "SETTLEMENT":
        yield from by_sign(funding, (FUNDING_RECEIVED, (coin,)), (FUNDING_PAID, (coin,)))
    elif kind == "INTEREST":
        yield from by_sign(cash_flow, None, (INTEREST_PAID, (coin,)))
    elif kind in PNL_TYPES:
        yield from by_sign(cash_flow, (REALISED_PROFIT, (coin, category)),
                           (REALISED_LOSS, (coin, category)))
    elif kind in TRANSFERS and cash_flow is not None:
        yield from by_sign(abs(cash_flow), (TRANSFERS[kind], (coin,)))


SOURCE = Source(name="transactions", path="/v5/account/transaction-log", query=QUERY,
                uid_limit_per_second=25, window_ms=7 * DAY_MS - 1000, overlap_ms=10 * 60_000,
                list_key="list", entry=entry, sweep_every_ms=5 * 60_000,
                light_overlap_ms=60_000)

EXAMPLE_ROWS = (  # (id, type, currency): one of each kind of row, and a type Bybit may add
    ("592324", "TRADE", "USDT"), ("592324", "SETTLEMENT", "USDT"),
    ("L-I-I-452265-1", "INTEREST", "BTC"), ("t-1", "TRANSFER_IN", "USDC"),
    ("t-2", "TRANSFER_OUT", "USDT"), ("9001", "A_TYPE_BYBIT_ADDS_LATER", "ETH"),
)


def example(value: Callable[[Field], Any]) -> list[Any]:
    rows = [{"id": row_id, "type": kind, "currency": coin, "symbol": "BTCUSDT", "side": "Buy",
             "transactionTime": str(1_700_000_000_000 + index), "cashBalance": "1",
             **{item.key: value(item) for item in FIELDS}}
            for index, (row_id, kind, coin) in enumerate(EXAMPLE_ROWS)]
    return [{"retCode": 0, "result": {"nextPageCursor": "", "list": rows}}]


ENDPOINT = Endpoint(
    collector="transactions",
    path=SOURCE.path,
    uid_limit_per_second=SOURCE.uid_limit_per_second,
    targets=collector_target("transactions", QUERY),
    translate=translation_of((SOURCE,)),
    families=FAMILIES,
    fields=FIELDS,
    example=example,
    interval=60.0,
    paginated=True,
    sources=(SOURCE,),
)
