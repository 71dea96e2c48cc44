"""`GET /v5/account/mmp-state`: market-maker protection of the account's options, per base coin
(asked for each base coin the account holds options or greeks in). An account without MMP
(retCode 110062 or 110065), or a base coin Bybit answers an empty list for, has it disabled."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from exporter.bybit.answers import InvalidResponse, named_entries, result_of
from exporter.bybit.endpoint import Context, Endpoint, collector_target
from exporter.metrics.family import gauge
from exporter.metrics.fields import (Field, Reader, Translation, flag, millis_time, milliseconds,
                                     number)

NO_MMP = frozenset({110062, 110065})  # "no MMP information", "MMP hasn't yet been enabled"
# What the request plan counts without evidence: a desk on Bybit's main option coins. The poller
# asks the base coins the account holds options in (exporter.service.evidence), typically one.
PLANNED = ("BTC", "ETH", "SOL")
REFRESH_SECONDS = 300.0  # asked at least this often while no options are held

ENABLED = gauge("bybit_mmp_enabled",
                "1 if market-maker protection is on for the base coin's options (mmpEnabled); "
                "0 where the account has none.", "base_coin")
FROZEN = Field("mmpFrozen", flag, gauge(
    "bybit_mmp_frozen", "1 while MMP has frozen quoting on the base coin's options (mmpFrozen).",
    "base_coin"))
FROZEN_UNTIL_AT = gauge("bybit_mmp_frozen_until_timestamp_seconds",
                        "When the freeze ends (mmpFrozenUntil); only while frozen.", "base_coin")
FROZEN_UNTIL = Field("mmpFrozenUntil", millis_time)  # meaningful only while frozen
SETTINGS = (
    Field("window", milliseconds, gauge(
        "bybit_mmp_window_seconds", "The window MMP counts trades over (window).", "base_coin")),
    Field("frozenPeriod", milliseconds, gauge(
        "bybit_mmp_frozen_period_seconds",
        "How long a freeze lasts (frozenPeriod); 0: until reset by hand.", "base_coin")),
    Field("qtyLimit", number, gauge(
        "bybit_mmp_quantity_limit", "Traded quantity within the window that freezes (qtyLimit).",
        "base_coin")),
    Field("deltaLimit", number, gauge(
        "bybit_mmp_delta_limit", "Delta traded within the window that freezes (deltaLimit).",
        "base_coin")),
    Field("vegaLimit", number, gauge(
        "bybit_mmp_vega_limit", "Vega traded within the window that freezes (vegaLimit).",
        "base_coin")),
)
ENABLED_FIELD = Field("mmpEnabled", flag)
FIELDS = (ENABLED_FIELD, FROZEN, FROZEN_UNTIL, *SETTINGS)


def query_of(base_coin: str) -> str:
    return f"baseCoin={base_coin}"


def translate(payloads: Sequence[Any], context: Context) -> Translation:
    if len(context.queries) != len(payloads):
        raise InvalidResponse("answers without their base coins")
    reader = Reader()
    for query, payload in zip(context.queries, payloads):
        asked = query.removeprefix("baseCoin=")
        no_mmp = isinstance(payload, dict) and payload.get("retCode") in NO_MMP
        rows = {} if no_mmp else dict(named_entries(result_of(payload), "result", "baseCoin",
                                                    "result"))
        if not rows:
            reader.emit(ENABLED, (asked,), 0.0)
        for coin, item in rows.items():
            _read(reader, coin, item)
    return reader.result()


def _read(reader: Reader, coin: str, item: dict[str, Any]) -> None:
    where = f"base coin {coin}"
    values = reader.fields(item, (FROZEN, *SETTINGS), (coin,), where)
    reader.emit(ENABLED, (coin,), reader.read(item, ENABLED_FIELD, where))
    until = reader.read(item, FROZEN_UNTIL, where)
    if values["mmpFrozen"]:
        reader.emit(FROZEN_UNTIL_AT, (coin,), until)


def example(value: Callable[[Field], Any]) -> list[Any]:
    row = {"baseCoin": "BTC", **{item.key: value(item) for item in FIELDS}}
    return [{"retCode": 0, "retMsg": "OK", "result": {"result": [row]}}]


ENDPOINT = Endpoint(
    collector="mmp",
    path="/v5/account/mmp-state",
    uid_limit_per_second=10,  # not stated by Bybit
    targets=collector_target("mmp", *map(query_of, PLANNED)),
    translate=translate,
    families=(ENABLED, *(item.family for item in (FROZEN, *SETTINGS) if item.family is not None),
              FROZEN_UNTIL_AT),
    fields=FIELDS,
    example=example,
    permission="Options",
    keeps_unasked=True,
    answer_codes=NO_MMP,
    typical_requests=lambda _: 1.0,
)
