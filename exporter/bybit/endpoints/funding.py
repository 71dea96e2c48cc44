"""`GET /v5/asset/transfer/query-account-coins-balance?accountType=FUND`: the Funding wallet's
coins, valued with Bybit's USD index prices (the answer carries no USD value)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from exporter.bybit.answers import named_entries, result_of
from exporter.bybit.endpoint import Context, Endpoint, collector_target
from exporter.bybit.endpoints.wallet import COIN_VALUE_USD, COIN_WALLET_BALANCE
from exporter.metrics.family import gauge
from exporter.metrics.fields import Field, Reader, Translation, number

BALANCE = Field("walletBalance", number, COIN_WALLET_BALANCE)
FIELDS = (
    BALANCE,
    Field("transferBalance", number, gauge(
        "bybit_coin_transfer_balance",
        "Amount that can be transferred out of the Funding wallet, in the coin "
        "(transferBalance); negative while a bonus exceeds the balance.", "coin")),
)
MAX_COINS = 5000


def translate(payloads: Sequence[Any], context: Context) -> Translation:
    result = result_of(payloads[0])
    rows = result.get("balance")
    if isinstance(rows, dict):  # the single-coin form of the answer
        result = {"balance": [rows]}
    reader = Reader()
    for coin, item in named_entries(result, "balance", "coin", "result", MAX_COINS):
        values = reader.fields(item, FIELDS, (coin,), f"coin {coin}")
        price, balance = context.prices.get(coin), values[BALANCE.key]
        if price is not None and balance is not None:
            reader.emit(COIN_VALUE_USD, (coin,), balance * price)
    return reader.result()


def example(value: Callable[[Field], Any]) -> list[Any]:
    rows = [{"coin": coin, "bonus": "0", **{item.key: value(item) for item in FIELDS}}
            for coin in ("BTC", "USDT")]
    return [{"retCode": 0, "result": {"accountType": "FUND", "memberId": "", "balance": rows}}]


ENDPOINT = Endpoint(
    collector="funding",
    path="/v5/asset/transfer/query-account-coins-balance",
    uid_limit_per_second=5,
    targets=collector_target("funding", "accountType=FUND",
                             value_labels=(("account_type", "FUND"),)),
    translate=translate,
    families=tuple(item.family for item in FIELDS if item.family is not None)
    + (COIN_VALUE_USD,),
    fields=FIELDS,
    example=example,
    interval=300.0,
    needs_prices=True,
    permission="Wallet",
)
