"""The money-flow answers: the transaction log, deposits (on-chain and internal) and withdrawals,
with Bybit's time windows, limits and URL-encoded cursors."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from exporter.simulator.endpoints import DENIED, ApiError, Call, Result
from exporter.simulator.ledger import LedgerRow

T = TypeVar("T")
DAY_MS = 86_400_000
HISTORY_MS = 730 * DAY_MS  # the transaction log reaches back 2 years
CURSOR = re.compile(r"(\d+):1,(\d+):1")  # the cursor once decoded: "<index>:1,<time>:1"


@dataclass(frozen=True)
class Rules:
    default_ms: int  # the window when neither startTime nor endTime is given
    max_ms: int  # the widest window allowed
    default_limit: int
    max_limit: int = 50


LOG_RULES = Rules(DAY_MS, 7 * DAY_MS, 20)
RECORD_RULES = Rules(30 * DAY_MS, 30 * DAY_MS, 50)


def transaction_log(call: Call) -> Result:
    account, params = call.account, call.params
    if (params.get("accountType") or "UNIFIED") != "UNIFIED" or "UNIFIED" not in account.wallets:
        raise ApiError(10001, "accountType only support UNIFIED")
    start, end = window(params, call.now_ms, LOG_RULES)
    start = max(start, call.now_ms - HISTORY_MS)
    _advance(call)
    rows = [(r.time_ms, i, r) for i, r in enumerate(account.ledger.rows())
            if r.visible(call.now_ms) and start <= r.time_ms < end and _wanted(r, params)]
    chosen, cursor = page(rows, params, LOG_RULES)
    return {"nextPageCursor": cursor, "list": [r.row() for r in chosen]}


def _wanted(row: LedgerRow, params: dict[str, str]) -> bool:
    return all((not params.get(name) or params[name] == value) for name, value in (
        ("category", row.category), ("currency", row.currency), ("type", row.type))) and (
        not params.get("baseCoin") or row.symbol.startswith(params["baseCoin"]))


def deposits(call: Call) -> Result:
    _advance(call)
    return _records(call, call.account.deposits)


def internal_deposits(call: Call) -> Result:
    _advance(call)
    return _records(call, call.account.internal_deposits)


def withdrawals(call: Call) -> Result:
    """Master keys only; withdrawType 0 (the default) lists on-chain withdrawals only, 1
    off-chain only, 2 both."""
    if call.account.parent_uid is not None:
        raise ApiError(10005, DENIED)
    kind = call.params.get("withdrawType") or "0"
    if kind not in ("0", "1", "2"):
        raise ApiError(10001, "params error: withdrawType must be 0, 1 or 2")
    _advance(call)
    chosen = [w for w in call.account.withdrawals if kind == "2" or w.off_chain == (kind == "1")]
    return _records(call, chosen)


class _Record(Protocol):  # a Deposit, InternalDeposit or Withdrawal
    coin: str
    time_ms: int

    def row(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Record)


def _records(call: Call, records: Sequence[R]) -> Result:
    """One page of the records in the window (by their time), newest first."""
    start, end = window(call.params, call.now_ms, RECORD_RULES)
    coin = call.params.get("coin", "")
    rows = [(r.time_ms, i, r) for i, r in enumerate(list(records))
            if start <= r.time_ms < end and (not coin or r.coin == coin)]
    chosen, cursor = page(rows, call.params, RECORD_RULES)
    return {"rows": [r.row() for r in chosen], "nextPageCursor": cursor}


def _advance(call: Call) -> None:
    """Let the account book what is due by now (the demo's rows appear this way)."""
    if call.account.advance is not None:
        call.account.advance(call.account, call.now_ms)


def window(params: dict[str, str], now_ms: int, rules: Rules) -> tuple[int, int]:
    """[start, end) in ms as Bybit reads startTime and endTime."""
    start, end = _ms(params, "startTime"), _ms(params, "endTime")
    if end is None:
        if start is None:
            return now_ms - rules.default_ms, now_ms + 1
        return start, start + rules.default_ms
    if start is None:
        return end - rules.default_ms, end
    if end < start:
        raise ApiError(10001, "params error: endTime can not be less than startTime")
    if end - start > rules.max_ms:
        raise ApiError(10001, f"The start time and end time must be within "
                              f"{rules.max_ms // DAY_MS} days")
    return start, end


def _ms(params: dict[str, str], name: str) -> int | None:
    value = params.get(name, "")
    if not value:
        return None
    if not value.isdigit():
        raise ApiError(10001, f"params error: {name} is invalid")
    return int(value)


def page(rows: list[tuple[int, int, T]], params: dict[str, str],
         rules: Rules) -> tuple[list[T], str]:
    """Newest first, one page of `limit` after the cursor's row, and the URL-encoded cursor of
    the next page ("" on the last page). `rows`: (time, index in its list, item)."""
    limit = _limit(params.get("limit", ""), rules)
    ordered = sorted(rows, key=lambda r: (r[0], r[1]), reverse=True)
    after = _cursor(params.get("cursor", ""))
    if after is not None:
        ordered = [r for r in ordered if (r[0], r[1]) < after]
    chosen = ordered[:limit]
    if len(ordered) <= limit:
        return [r[2] for r in chosen], ""
    time_ms, index, _ = chosen[-1]
    return [r[2] for r in chosen], quote(f"{index}:1,{time_ms}:1", safe="")


def _limit(value: str, rules: Rules) -> int:
    if not value:
        return rules.default_limit
    if not value.isdigit() or not 1 <= int(value) <= rules.max_limit:
        raise ApiError(10001, f"params error: limit must be 1-{rules.max_limit}")
    return int(value)


def _cursor(cursor: str) -> tuple[int, int] | None:
    """The cursor as the query parser decoded it, once: (time, index) of the last row sent."""
    if not cursor:
        return None
    match = CURSOR.fullmatch(cursor)
    if match is None:
        raise ApiError(10001, "invalid cursor")
    return int(match.group(2)), int(match.group(1))
