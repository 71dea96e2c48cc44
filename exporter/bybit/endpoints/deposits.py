"""Deposits and withdrawals of the Funding wallet: on-chain deposit records, Bybit-to-Bybit
(internal) deposit records and withdrawal records of both kinds, counted once completed. Every
poll reads the widest window Bybit allows (under 30 days), so that a deposit pending for hours is
counted when it completes."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from exporter.bybit.endpoint import Endpoint, collector_target
from exporter.bybit.ledger import (DAY_MS, Entry, Source, by_sign, counter, identity, millis,
                                   translation_of)
from exporter.metrics.fields import Field, Reader, amount, number, text

DEPOSITS = counter("bybit_deposits_total",
                   "Completed deposits into the Funding wallet, in the coin (deposit records "
                   "with status 3, internal deposit records with status 2).", "coin")
WITHDRAWALS = counter("bybit_withdrawals_total",
                      "Completed withdrawals, on-chain and internal, in the coin (status "
                      "success).", "coin")
WITHDRAWAL_FEES = counter("bybit_withdrawal_fees_total",
                          "Fees of completed withdrawals, in the coin (withdrawFee).", "coin")

AMOUNT = Field("amount", amount)
WITHDRAW_FEE = Field("withdrawFee", amount)
STATUS = Field("status", number)
WITHDRAWAL_STATUS = Field("status", text)
DEPOSIT_TYPE = Field("depositType", text)
FIELDS = (AMOUNT, WITHDRAW_FEE)
WINDOW_MS = 30 * DAY_MS - 60_000  # "under 30 days apart"
NOT_CREDITED = "50"


def _completed(row: Mapping[str, Any], reader: Reader, where: str, success: float) -> bool:
    status: float | None = reader.read(row, STATUS, where)
    return status == success and reader.read(row, DEPOSIT_TYPE, where) != NOT_CREDITED


def _deposit_keys(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys that identify a deposit, the coin last: its id, or in answers from before Bybit
    added `id`, its transaction and output."""
    if row.get("id") not in (None, ""):
        return ("id", "coin")
    return ("txID", "txIndex", "coin") if row.get("txIndex") not in (None, "") else ("txID", "coin")


def _deposit(time_key: str, success: float) -> Callable[[Mapping[str, Any], Reader, str],
                                                        Entry | None]:
    def entry(row: Mapping[str, Any], reader: Reader, where: str) -> Entry | None:
        if not _completed(row, reader, where, success):
            return None  # pending, failed or rolled back: looked at again next poll
        ident = identity(row, reader, where, _deposit_keys(row))
        time_ms = millis(row, reader, where, time_key) if ident is not None else None
        if ident is None or time_ms is None:
            return None
        return Entry("|".join(ident), time_ms,
                     by_sign(reader.read(row, AMOUNT, where), (DEPOSITS, (ident[-1],))))

    return entry


def withdrawal(row: Mapping[str, Any], reader: Reader, where: str) -> Entry | None:
    if reader.read(row, WITHDRAWAL_STATUS, where) != "success":
        return None
    ident = identity(row, reader, where, ("withdrawId", "coin"))
    time_ms = millis(row, reader, where, "updateTime") if ident is not None else None
    if ident is None or time_ms is None:
        return None
    coin = (ident[1],)
    value, fee = reader.read(row, AMOUNT, where), reader.read(row, WITHDRAW_FEE, where)
    return Entry("|".join(ident), time_ms,
                 by_sign(value, (WITHDRAWALS, coin)) + by_sign(fee, (WITHDRAWAL_FEES, coin)))


def _source(name: str, path: str, query: str, per_minute: int, entry: Any) -> Source:
    return Source(name=name, path=path, query=query, uid_limit_per_second=per_minute / 60,
                  window_ms=WINDOW_MS, overlap_ms=WINDOW_MS, list_key="rows", entry=entry)


SOURCES = (
    _source("deposits", "/v5/asset/deposit/query-record", "limit=50", 100,
            _deposit("successAt", 3)),
    _source("internal_deposits", "/v5/asset/deposit/query-internal-record", "limit=50", 100,
            _deposit("createdTime", 2)),
    _source("withdrawals", "/v5/asset/withdraw/query-record", "withdrawType=2&limit=50", 300,
            withdrawal),
)


def example(value: Callable[[Field], Any]) -> list[Any]:
    deposit = {"id": "d-1", "coin": "USDT", "status": 3, "successAt": "1700000000000",
               "depositType": "0", "txID": "0xabc", "depositFee": "",
               AMOUNT.key: value(AMOUNT)}
    internal = {"id": "i-1", "coin": "BTC", "status": 2, "createdTime": "1700000000",
                "type": 1, AMOUNT.key: value(AMOUNT)}
    withdrawn = {"withdrawId": "w-1", "coin": "USDT", "status": "success", "withdrawType": 0,
                 "updateTime": "1700000000000", "createTime": "1699999990000",
                 AMOUNT.key: value(AMOUNT), WITHDRAW_FEE.key: value(WITHDRAW_FEE)}
    return [{"retCode": 0, "result": {"nextPageCursor": "", "rows": [row]}}
            for row in (deposit, internal, withdrawn)]


ENDPOINT = Endpoint(
    collector="deposits",
    path=SOURCES[0].path,
    uid_limit_per_second=SOURCES[0].uid_limit_per_second,
    targets=collector_target("deposits", *(source.query for source in SOURCES)),
    translate=translation_of(SOURCES),
    families=(DEPOSITS, WITHDRAWALS, WITHDRAWAL_FEES),
    fields=FIELDS,
    example=example,
    interval=300.0,
    paginated=True,
    permission="Wallet (withdrawal records: a master key)",
    sources=SOURCES,
)
