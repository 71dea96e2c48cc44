"""Pure translation of one wallet-balance response into a snapshot of metric values.

An empty string means "not applicable" for that account: the series is left out, never 0.
A value that is neither a number nor empty makes the whole response invalid: a wrong number
is worse than a gap.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

# (Bybit field, metric name, HELP text)
ACCOUNT_FIELDS = (
    ("totalEquity", "bybit_account_equity_usd", "Total equity of the account in USD (totalEquity)."),
    ("totalWalletBalance", "bybit_account_wallet_balance_usd",
     "Total wallet balance in USD (totalWalletBalance)."),
    ("totalMarginBalance", "bybit_account_margin_balance_usd",
     "Total margin balance in USD: wallet balance plus unrealised PnL (totalMarginBalance)."),
    ("totalAvailableBalance", "bybit_account_available_balance_usd",
     "Total available balance in USD (totalAvailableBalance)."),
    ("totalPerpUPL", "bybit_account_perp_unrealised_pnl_usd",
     "Unrealised PnL of perpetual and futures positions in USD (totalPerpUPL)."),
    ("totalInitialMargin", "bybit_account_initial_margin_usd",
     "Total initial margin in USD (totalInitialMargin)."),
    ("totalInitialMarginByMp", "bybit_account_initial_margin_by_mark_price_usd",
     "Total initial margin by mark price in USD (totalInitialMarginByMp)."),
    ("totalMaintenanceMargin", "bybit_account_maintenance_margin_usd",
     "Total maintenance margin in USD (totalMaintenanceMargin)."),
    ("totalMaintenanceMarginByMp", "bybit_account_maintenance_margin_by_mark_price_usd",
     "Total maintenance margin by mark price in USD (totalMaintenanceMarginByMp)."),
    ("accountIMRate", "bybit_account_initial_margin_ratio",
     "Initial margin rate as a 0-1 ratio; at 1 no new positions can be opened (accountIMRate)."),
    ("accountIMRateByMp", "bybit_account_initial_margin_by_mark_price_ratio",
     "Initial margin rate by mark price as a 0-1 ratio (accountIMRateByMp)."),
    ("accountMMRate", "bybit_account_maintenance_margin_ratio",
     "Maintenance margin rate as a 0-1 ratio; liquidation at 1 (accountMMRate)."),
    ("accountMMRateByMp", "bybit_account_maintenance_margin_by_mark_price_ratio",
     "Maintenance margin rate by mark price as a 0-1 ratio; liquidation at 1 (accountMMRateByMp)."),
)

COIN_FIELDS = (
    ("equity", "bybit_coin_equity", "Equity of the coin, in the coin (equity)."),
    ("usdValue", "bybit_coin_value_usd", "USD value of the coin's equity (usdValue)."),
    ("walletBalance", "bybit_coin_wallet_balance", "Wallet balance, in the coin (walletBalance)."),
    ("free", "bybit_coin_free", "Available balance of a classic SPOT wallet, in the coin (free)."),
    ("locked", "bybit_coin_locked", "Balance locked by open orders, in the coin (locked)."),
    ("borrowAmount", "bybit_coin_borrow_amount", "Borrowed amount, in the coin (borrowAmount)."),
    ("spotBorrow", "bybit_coin_spot_borrow", "Borrowed by spot margin trading, in the coin (spotBorrow)."),
    ("spotHedgingQty", "bybit_coin_spot_hedging_quantity",
     "Quantity used for spot hedging in portfolio margin, in the coin (spotHedgingQty)."),
    ("accruedInterest", "bybit_coin_accrued_interest",
     "Interest accrued on borrows, in the coin (accruedInterest)."),
    ("totalOrderIM", "bybit_coin_order_initial_margin",
     "Initial margin held by open orders, in the coin (totalOrderIM)."),
    ("totalPositionIM", "bybit_coin_position_initial_margin",
     "Initial margin of open positions, in the coin (totalPositionIM)."),
    ("totalPositionMM", "bybit_coin_position_maintenance_margin",
     "Maintenance margin of open positions, in the coin (totalPositionMM)."),
    ("unrealisedPnl", "bybit_coin_unrealised_pnl", "Unrealised PnL, in the coin (unrealisedPnl)."),
    ("cumRealisedPnl", "bybit_coin_cumulative_realised_pnl",
     "Cumulative realised PnL, in the coin (cumRealisedPnl)."),
    ("bonus", "bybit_coin_bonus", "Bonus balance, in the coin (bonus)."),
    ("availableToWithdraw", "bybit_coin_available_to_withdraw",
     "Amount available to withdraw, in the coin (availableToWithdraw)."),
)

COIN_FLAGS = (
    ("marginCollateral", "bybit_coin_margin_collateral",
     "1 if the coin can be used as margin collateral by Bybit (marginCollateral)."),
    ("collateralSwitch", "bybit_coin_collateral_enabled",
     "1 if the user has enabled the coin as collateral (collateralSwitch)."),
)

_DECIMAL = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_MAX_COINS = 5000


class InvalidResponse(ValueError):
    """The response does not have the shape or values of a wallet-balance answer."""


@dataclass(frozen=True)
class Snapshot:
    """Metric values of one account type: account-wide and per coin, keyed by metric name."""

    account_type: str
    totals: Mapping[str, float]
    coins: Mapping[str, Mapping[str, float]]


def translate(payload: Any, account_type: str) -> Snapshot:
    entry = _wallet_entry(payload, account_type)
    totals = _values(entry, ACCOUNT_FIELDS, "account")
    coins_raw = entry.get("coin")
    if not isinstance(coins_raw, list):
        raise InvalidResponse("result.list[0].coin is not a list")
    if len(coins_raw) > _MAX_COINS:
        raise InvalidResponse(f"more than {_MAX_COINS} coins")
    coins: dict[str, dict[str, float]] = {}
    for item in coins_raw:
        name, values = _coin(item)
        if name in coins:
            raise InvalidResponse(f"coin {name} listed twice")
        coins[name] = values
    return Snapshot(account_type, totals, coins)


def _wallet_entry(payload: Any, account_type: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidResponse("body is not a JSON object")
    result = payload.get("result")
    if not isinstance(result, dict):
        raise InvalidResponse("result is missing")
    wallets = result.get("list")
    if not isinstance(wallets, list) or not wallets:
        raise InvalidResponse("result.list is empty or missing")
    entry = wallets[0]
    if not isinstance(entry, dict):
        raise InvalidResponse("result.list[0] is not an object")
    answered = entry.get("accountType")
    if answered not in (None, "", account_type):
        raise InvalidResponse(f"asked for {account_type}, answered for {answered!r}"[:120])
    return entry


def _coin(item: Any) -> tuple[str, dict[str, float]]:
    if not isinstance(item, dict):
        raise InvalidResponse("a coin entry is not an object")
    name = item.get("coin")
    if not isinstance(name, str) or not name or len(name) > 64 or not name.isprintable():
        raise InvalidResponse("a coin entry has no usable coin name")
    values = _values(item, COIN_FIELDS, f"coin {name}")
    for field, metric, _ in COIN_FLAGS:
        flag = _flag(item.get(field), f"coin {name} {field}")
        if flag is not None:
            values[metric] = flag
    return name, values


def _values(source: dict[str, Any], fields: tuple, where: str) -> dict[str, float]:
    values = {}
    for field, metric, _ in fields:
        number = parse_number(source.get(field), f"{where} {field}")
        if number is not None:
            values[metric] = number
    return values


def parse_number(value: Any, where: str) -> float | None:
    """A finite float, or None where Bybit says "not applicable" ("" or missing)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _DECIMAL.match(value):
        number = float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise InvalidResponse(f"{where} is not a number: {str(value)[:40]!r}")
    if not math.isfinite(number):
        raise InvalidResponse(f"{where} is not a finite number")
    return number


def _flag(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    raise InvalidResponse(f"{where} is not a boolean")
