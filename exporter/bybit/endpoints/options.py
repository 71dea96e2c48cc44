"""`GET /v5/asset/coin-greeks` and `GET /v5/account/option-asset-info`: the account's greeks per
base coin, and its option margin and PnL per settle coin. One collector reads both (each query
names its own path)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from exporter.bybit.answers import InvalidResponse, named_entries, result_of
from exporter.bybit.endpoint import Context, Endpoint, chosen_by_evidence, collector_target
from exporter.metrics.family import gauge
from exporter.metrics.fields import Field, Reader, Translation, Unreadable, number, numbers

GREEKS_PATH = "/v5/asset/coin-greeks"
ASSETS_PATH = "/v5/account/option-asset-info"
QUERIES = (GREEKS_PATH, ASSETS_PATH)
REFRESH_SECONDS = 300.0  # asked at least this often while no options are held

GREEKS = numbers(*((f"total{greek.title()}", gauge(
    f"bybit_greeks_{greek}",
    f"{greek.title()} of the account's options on the base coin, summed (coin-greeks "
    f"total{greek.title()}).", "base_coin")) for greek in ("delta", "gamma", "vega", "theta")))
ASSETS = numbers(
    ("totalDelta", gauge("bybit_option_delta",
                         "Delta of the option positions settled in the coin (option-asset-info "
                         "totalDelta).", "coin")),
    ("totalRPL", gauge("bybit_option_realised_pnl",
                       "Realised PnL of the options settled in the coin, in the coin (totalRPL).",
                       "coin")),
    ("totalUPL", gauge("bybit_option_unrealised_pnl",
                       "Unrealised PnL of the options settled in the coin, in the coin "
                       "(totalUPL).", "coin")),
    ("assetIM", gauge("bybit_option_initial_margin",
                      "Initial margin of the options settled in the coin, open option orders "
                      "included, in the coin (assetIM).", "coin")),
    ("assetMM", gauge("bybit_option_maintenance_margin",
                      "Maintenance margin of the options settled in the coin, open option "
                      "orders included, in the coin (assetMM).", "coin")),
)


def translate(payloads: Sequence[Any], _: Context) -> Translation:
    """Each answer read by its shape: coin-greeks lists under result.list, option-asset-info
    under result.result."""
    reader = Reader()
    for payload in payloads:
        result = result_of(payload)
        if "result" in result:
            for coin, item in named_entries(result, "result", "coin", "result"):
                reader.fields(item, ASSETS, (coin,), f"coin {coin}")
        elif "list" in result:
            for coin, item in named_entries(result, "list", "baseCoin", "result"):
                reader.fields(item, GREEKS, (coin,), f"base coin {coin}")
        else:
            raise InvalidResponse("neither result.list nor result.result")
    return reader.result()


def greeks_held(payload: Any) -> set[str]:
    """The base coins a well-formed coin-greeks answer gives a greek other than 0 (an account
    holds options there); none from other answers."""
    result = result_of(payload)
    if "list" not in result:
        return set()
    return {coin for coin, item in named_entries(result, "list", "baseCoin", "result")
            if any(_nonzero(item.get(field.key)) for field in GREEKS)}


def _nonzero(value: Any) -> bool:
    try:
        return number(value) not in (None, 0.0)
    except Unreadable:
        return True  # unreadable: not known to be none


def lists_any(payload: Any) -> bool:
    return bool(greeks_held(payload))


def example(value: Callable[[Field], Any]) -> list[Any]:
    def coin(name: str, key: str, fields: tuple[Field, ...]) -> dict[str, Any]:
        return {key: name, **{item.key: value(item) for item in fields}}

    greeks = [coin(name, "baseCoin", GREEKS) for name in ("BTC", "ETH")]
    assets = [{**coin(name, "coin", ASSETS), "sendTime": 1773230923530} for name in ("USDC",)]
    return [{"retCode": 0, "retMsg": "OK", "result": {"list": greeks}},
            {"retCode": 0, "retMsg": "Success", "result": {"result": assets}}]


ENDPOINT = Endpoint(
    collector="options",
    path=GREEKS_PATH,
    also_reads=(ASSETS_PATH,),
    uid_limit_per_second=50,  # coin-greeks; option-asset-info states none
    targets=collector_target("options", *QUERIES),
    translate=translate,
    families=tuple(item.family for item in GREEKS + ASSETS if item.family is not None),
    fields=GREEKS + ASSETS,
    example=example,
    permission="Options (read)",
    keeps_unasked=True,
    typical_requests=chosen_by_evidence(len(QUERIES), REFRESH_SECONDS, typical=0),
)
