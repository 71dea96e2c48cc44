"""`GET /v5/asset/asset-overview`: what the account owns in USD, in total and per wallet
(Funding, Unified, Earn, bots, copy trading, ...: the set is open)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from exporter.bybit.answers import named_entries, result_of
from exporter.bybit.endpoint import Context, Endpoint, collector_target
from exporter.metrics.family import gauge
from exporter.metrics.fields import Field, Reader, Translation, numbers

TOTAL = numbers(("totalEquity", gauge(
    "bybit_total_equity_usd",
    "Everything the account owns, in every wallet, in USD (asset-overview totalEquity).")))
WALLET = numbers(("totalEquity", gauge(
    "bybit_wallet_equity_usd",
    "Equity of one wallet in USD (asset-overview list[].totalEquity); wallet is Bybit's name "
    "for it, such as FundingAccount, UnifiedTradingAccount, Earn, TradingBot.", "wallet")))
FIELDS = TOTAL + WALLET


def translate(payloads: Sequence[Any], _: Context) -> Translation:
    result = result_of(payloads[0])
    reader = Reader()
    reader.fields(result, TOTAL)
    for wallet, item in named_entries(result, "list", "accountType", "result"):
        reader.fields(item, WALLET, (wallet,), f"wallet {wallet}")
    return reader.result()


def example(value: Callable[[Field], Any]) -> list[Any]:
    wallets = [{"accountType": name, "valuationCurrency": "USD", "snapshotTime": "1772449024908",
                "coinDetail": [{"coin": "BTC", "equity": "0.3"}],
                **{item.key: value(item) for item in WALLET}}
               for name in ("FundingAccount", "Earn")]
    return [{"retCode": 0, "result": {**{item.key: value(item) for item in TOTAL},
                                      "list": wallets}}]


ENDPOINT = Endpoint(
    collector="assets",
    path="/v5/asset/asset-overview",
    uid_limit_per_second=50,
    targets=collector_target("assets", ""),
    translate=translate,
    families=tuple(item.family for item in FIELDS if item.family is not None),
    fields=FIELDS,
    example=example,
    interval=300.0,
    permission="Wallet",
)
