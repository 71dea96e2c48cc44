"""`GET /v5/account/wallet-balance`: account totals, margin rates and coins, per account type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

from exporter.bybit.answers import InvalidResponse, named_entries, result_of
from exporter.bybit.endpoint import Context, Endpoint, Target
from exporter.metrics.family import WALLET_HEALTH, gauge
from exporter.metrics.fields import (Field, Reader, Translation, Unreadable, flag, number,
                                     numbers)

if TYPE_CHECKING:
    from exporter.account import Account

BY_MP = "Bybit documents the ...ByMp fields as equal to the plain ones."

ACCOUNT_FIELDS = numbers(
    ("totalEquity", gauge("bybit_account_equity_usd",
                          "Total equity of the account in USD (totalEquity).")),
    ("totalWalletBalance", gauge("bybit_account_wallet_balance_usd",
                                 "Total wallet balance in USD (totalWalletBalance).")),
    ("totalMarginBalance", gauge(
        "bybit_account_margin_balance_usd",
        "Total margin balance in USD: wallet balance plus unrealised PnL (totalMarginBalance).")),
    ("totalAvailableBalance", gauge("bybit_account_available_balance_usd",
                                    "Total available balance in USD (totalAvailableBalance).")),
    ("totalPerpUPL", gauge(
        "bybit_account_perp_unrealised_pnl_usd",
        "Unrealised PnL of perpetual and futures positions in USD (totalPerpUPL).")),
    ("totalInitialMargin", gauge("bybit_account_initial_margin_usd",
                                 "Total initial margin in USD (totalInitialMargin).")),
    ("totalInitialMarginByMp", gauge(
        "bybit_account_initial_margin_by_mark_price_usd",
        "Total initial margin by mark price in USD (totalInitialMarginByMp).", note=BY_MP)),
    ("totalMaintenanceMargin", gauge("bybit_account_maintenance_margin_usd",
                                     "Total maintenance margin in USD (totalMaintenanceMargin).")),
    ("totalMaintenanceMarginByMp", gauge(
        "bybit_account_maintenance_margin_by_mark_price_usd",
        "Total maintenance margin by mark price in USD (totalMaintenanceMarginByMp).",
        note=BY_MP)),
    ("accountIMRate", gauge(
        "bybit_account_initial_margin_ratio",
        "Initial margin rate as a 0-1 ratio; at 1 no new positions can be opened "
        "(accountIMRate).")),
    ("accountIMRateByMp", gauge(
        "bybit_account_initial_margin_by_mark_price_ratio",
        "Initial margin rate by mark price as a 0-1 ratio (accountIMRateByMp).", note=BY_MP)),
    ("accountMMRate", gauge(
        "bybit_account_maintenance_margin_ratio",
        "Maintenance margin rate as a 0-1 ratio; liquidation at 1 (accountMMRate).")),
    ("accountMMRateByMp", gauge(
        "bybit_account_maintenance_margin_by_mark_price_ratio",
        "Maintenance margin rate by mark price as a 0-1 ratio; liquidation at 1 "
        "(accountMMRateByMp).", note=BY_MP)),
)

# shared with the Funding wallet's coins (account_type="FUND")
COIN_VALUE_USD = gauge(
    "bybit_coin_value_usd",
    "USD value of the coin: usdValue in wallet-balance; for the Funding wallet, its balance "
    "times Bybit's USD index price (absent without one).", "coin")
COIN_WALLET_BALANCE = gauge("bybit_coin_wallet_balance",
                            "Wallet balance, in the coin (walletBalance).", "coin")

COIN_FIELDS = numbers(
    ("equity", gauge("bybit_coin_equity", "Equity of the coin, in the coin (equity).", "coin")),
    ("usdValue", COIN_VALUE_USD),
    ("walletBalance", COIN_WALLET_BALANCE),
    ("free", gauge("bybit_coin_free",
                   "Available balance of a classic SPOT wallet, in the coin (free).", "coin",
                   note="Deprecated by Bybit.")),
    ("locked", gauge("bybit_coin_locked", "Balance locked by open orders, in the coin (locked).",
                     "coin")),
    ("borrowAmount", gauge("bybit_coin_borrow_amount",
                           "Borrowed amount, in the coin (borrowAmount).", "coin")),
    ("spotBorrow", gauge("bybit_coin_spot_borrow",
                         "Borrowed by spot margin trading, in the coin (spotBorrow).", "coin")),
    ("spotHedgingQty", gauge(
        "bybit_coin_spot_hedging_quantity",
        "Quantity used for spot hedging in portfolio margin, in the coin (spotHedgingQty).",
        "coin")),
    ("accruedInterest", gauge("bybit_coin_accrued_interest",
                              "Interest accrued on borrows, in the coin (accruedInterest).",
                              "coin")),
    ("totalOrderIM", gauge("bybit_coin_order_initial_margin",
                           "Initial margin held by open orders, in the coin (totalOrderIM).",
                           "coin")),
    ("totalPositionIM", gauge("bybit_coin_position_initial_margin",
                              "Initial margin of open positions, in the coin (totalPositionIM).",
                              "coin")),
    ("totalPositionMM", gauge(
        "bybit_coin_position_maintenance_margin",
        "Maintenance margin of open positions, in the coin (totalPositionMM).", "coin")),
    ("unrealisedPnl", gauge("bybit_coin_unrealised_pnl",
                            "Unrealised PnL, in the coin (unrealisedPnl).", "coin")),
    ("cumRealisedPnl", gauge("bybit_coin_cumulative_realised_pnl",
                             "Cumulative realised PnL, in the coin (cumRealisedPnl).", "coin")),
    ("bonus", gauge("bybit_coin_bonus", "Bonus balance, in the coin (bonus).", "coin")),
    ("availableToWithdraw", gauge(
        "bybit_coin_available_to_withdraw",
        "Amount available to withdraw, in the coin (availableToWithdraw).", "coin",
        note="Deprecated by Bybit for UNIFIED (empty there since 2025-01).")),
    ("colRes", gauge(
        "bybit_coin_collateral_restriction",
        "Collateral restriction status of the coin, as Bybit numbers it: -1, 0, 1 or 2 "
        "(colRes).", "coin")),
) + (
    Field("marginCollateral", flag, gauge(
        "bybit_coin_margin_collateral",
        "1 if the coin can be used as margin collateral by Bybit (marginCollateral).", "coin")),
    Field("collateralSwitch", flag, gauge(
        "bybit_coin_collateral_enabled",
        "1 if the user has enabled the coin as collateral (collateralSwitch).", "coin")),
)

MAX_COINS = 5000


def targets(account: Account) -> tuple[Target, ...]:
    coins = "&coin=" + ",".join(account.coins) if account.coins else ""
    return tuple(Target((("account_type", account_type),), (f"accountType={account_type}{coins}",))
                 for account_type in account.account_types)


def translate(payloads: Sequence[Any], context: Context) -> Translation:
    entry = _wallet_entry(payloads[0], context.labels["account_type"])
    reader = Reader()
    reader.fields(entry, ACCOUNT_FIELDS)
    for coin, item in named_entries(entry, "coin", "coin", "result.list[0]", MAX_COINS):
        reader.fields(item, COIN_FIELDS, (coin,), f"coin {coin}")
    return reader.result()


def _wallet_entry(payload: Any, account_type: str | None) -> dict[str, Any]:
    wallets = result_of(payload).get("list")
    if not isinstance(wallets, list) or not wallets:
        raise InvalidResponse("result.list is empty or missing")
    entry = wallets[0]
    if not isinstance(entry, dict):
        raise InvalidResponse("result.list[0] is not an object")
    answered = entry.get("accountType")
    if account_type is not None and answered not in (None, "", account_type):
        raise InvalidResponse(f"asked for {account_type}, answered for {answered!r}"[:120])
    return entry


class CoinEvidence(NamedTuple):
    """What one coin of a well-formed wallet answer says about where the account is busy:
    each yes, no, or None where the answer does not know ("" as portfolio margin answers, a
    missing or unreadable field)."""

    position_margin: bool | None  # totalPositionIM or totalPositionMM above 0
    order_margin: bool | None  # totalOrderIM above 0: open derivative orders
    locked: bool | None  # locked above 0: coins held by open spot orders


NOT_LISTED = CoinEvidence(False, False, False)  # a coin a complete answer leaves out has none
UNKNOWN = CoinEvidence(None, None, None)


def coin_evidence(payloads: Sequence[Any]) -> dict[str, CoinEvidence]:
    """Per coin of a well-formed answer, what it says (CoinEvidence)."""
    entry = _wallet_entry(payloads[0], None)
    return {coin: CoinEvidence(_above_zero(item.get("totalPositionIM"),
                                           item.get("totalPositionMM")),
                               _above_zero(item.get("totalOrderIM")),
                               _above_zero(item.get("locked")))
            for coin, item in named_entries(entry, "coin", "coin", "result.list[0]", MAX_COINS)}


def _above_zero(*raw: Any) -> bool | None:
    """True if any value is above 0, False if all are 0 or below, None if one is unknown."""
    values = []
    for value in raw:
        try:
            values.append(number(value))
        except Unreadable:
            values.append(None)
    if any(value is not None and value > 0 for value in values):
        return True
    return None if None in values else False


def example(value: Callable[[Field], Any]) -> list[Any]:
    coins = [{"coin": coin, **{f.key: value(f) for f in COIN_FIELDS}} for coin in ("BTC", "USDT")]
    entry = {"accountType": "UNIFIED", **{f.key: value(f) for f in ACCOUNT_FIELDS}, "coin": coins}
    return [{"retCode": 0, "retMsg": "OK", "result": {"list": [entry]}}]


ENDPOINT = Endpoint(
    collector="wallet",
    path="/v5/account/wallet-balance",
    uid_limit_per_second=50,  # UNIFIED; classic SPOT 20/s and CONTRACT 10/s
    targets=targets,
    translate=translate,
    families=tuple(f.family for f in ACCOUNT_FIELDS + COIN_FIELDS if f.family is not None),
    fields=ACCOUNT_FIELDS + COIN_FIELDS,
    example=example,
    margin=True,
    health=WALLET_HEALTH,
)
