"""`GET /v5/account/collateral-info`: what borrowing each coin costs by the hour, and how much
more can be borrowed. Bybit lists every coin it has; only the coins the account holds (the
wallet's coins) or borrows are exported."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from exporter.bybit.answers import InvalidResponse, list_of, result_of
from exporter.bybit.endpoint import Context, Endpoint, collector_target
from exporter.metrics.family import gauge
from exporter.metrics.fields import Field, Reader, Translation, Unreadable, number, numbers

FIELDS = numbers(
    ("hourlyBorrowRate", gauge(
        "bybit_coin_hourly_borrow_rate",
        "Interest charged per hour on the borrowed coin, as a ratio (hourlyBorrowRate; 24 x 365 "
        "times it is the yearly rate).", "coin")),
    ("borrowUsageRate", gauge(
        "bybit_coin_borrow_usage_ratio",
        "Share of the coin's borrowing limit in use, by the master account and its "
        "sub-accounts together, as a 0-1 ratio (borrowUsageRate).", "coin")),
    ("freeBorrowingLimit", gauge(
        "bybit_coin_free_borrowing_limit",
        "Interest-free borrowing limit, in the coin (freeBorrowingLimit; only borrowing caused "
        "by contract losses has one).", "coin")),
    ("freeBorrowAmount", gauge("bybit_coin_free_borrow_amount",
                               "Interest-free borrowed amount, in the coin (freeBorrowAmount).",
                               "coin")),
    ("availableToBorrow", gauge(
        "bybit_coin_available_to_borrow",
        "Amount that can still be borrowed, in the coin, shared by the master account and its "
        "sub-accounts (availableToBorrow).", "coin")),
    ("maxBorrowingAmount", gauge(
        "bybit_coin_max_borrowing_amount",
        "Most that can be borrowed, in the coin, shared by the master account and its "
        "sub-accounts (maxBorrowingAmount).", "coin")),
)
BORROWED = Field("borrowAmount", number)  # read to choose the coins, exported by the wallet
MAX_COINS = 10_000


def translate(payloads: Sequence[Any], context: Context) -> Translation:
    reader = Reader()
    seen: set[str] = set()
    for item in list_of(result_of(payloads[0]), "list", "result", MAX_COINS, required=False):
        coin = item.get("currency")
        if not isinstance(coin, str) or not _wanted(coin, item, context.wallet_coins):
            continue  # a coin the account neither holds nor borrows, however it is written
        if coin in seen:
            raise InvalidResponse(f"currency {coin} listed twice")
        seen.add(coin)
        reader.fields(item, FIELDS, (coin,), f"coin {coin}")
    return reader.result()


def _wanted(coin: str, item: dict[str, Any], wallet_coins: frozenset[str] | None) -> bool:
    """A coin the wallet lists, or one borrowed (its borrowAmount above 0): the only coins
    when the wallet's are not known."""
    if wallet_coins is not None and coin in wallet_coins:
        return True
    try:
        borrowed = number(item.get(BORROWED.key))
    except Unreadable:
        return False
    return borrowed is not None and borrowed > 0 and coin.isalnum() and len(coin) <= 32


def example(value: Callable[[Field], Any]) -> list[Any]:
    def coin(name: str) -> dict[str, Any]:
        return {"currency": name, "borrowable": True, "collateralSwitch": True,
                "marginCollateral": True, "collateralRatio": "0.95", "freeBorrowingAmount": "",
                "borrowAmount": "0", "otherBorrowAmount": "0",
                **{item.key: value(item) for item in FIELDS}}

    return [{"retCode": 0, "result": {"list": [coin("BTC"), coin("USDT")]}}]


ENDPOINT = Endpoint(
    collector="borrowing",
    path="/v5/account/collateral-info",
    uid_limit_per_second=50,
    targets=collector_target("borrowing", ""),
    translate=translate,
    families=tuple(item.family for item in FIELDS if item.family is not None),
    fields=(*FIELDS, BORROWED),
    example=example,
    interval=300.0,
)
