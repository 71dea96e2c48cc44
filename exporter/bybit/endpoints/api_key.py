"""`GET /v5/user/query-api`: when the exporter's own key expires, whether it could trade, and
the account's fee tier."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from exporter.bybit.answers import result_of
from exporter.bybit.endpoint import Context, Endpoint, collector_target
from exporter.metrics.family import gauge
from exporter.metrics.fields import (Field, Reader, Translation, bound_list, flag, text,
                                     timestamp)

FIELDS = (
    Field("expiredAt", timestamp, gauge(
        "bybit_api_key_expiry_timestamp_seconds",
        "When the exporter's API key expires (expiredAt); absent for a key that does not.")),
    Field("readOnly", flag, gauge(
        "bybit_api_key_read_only",
        "1 if the exporter's API key is read-only; 0 if it may trade or move funds (readOnly).")),
    Field("ips", bound_list, gauge(
        "bybit_api_key_ip_restricted",
        "1 if the exporter's API key only works from the IP addresses bound to it (ips).")),
)

VIP_INFO = gauge("bybit_account_vip_info",
                 "The account's fee tier (vipLevel, such as No VIP or VIP-2) and market-maker "
                 "level (mktMakerLevel, 0 when none); always 1.", "vip_level",
                 "market_maker_level")
TIER = (Field("vipLevel", text), Field("mktMakerLevel", text))


def translate(payloads: Sequence[Any], _: Context) -> Translation:
    reader = Reader()
    result = result_of(payloads[0])
    reader.fields(result, FIELDS)
    levels = [reader.read(result, item, "") for item in TIER]
    if None not in levels:
        reader.emit(VIP_INFO, tuple(levels), 1.0)
    return reader.result()


def example(value: Callable[[Field], Any]) -> list[Any]:
    fields = {item.key: value(item) for item in (*FIELDS, *TIER)}
    return [{"retCode": 0, "result": {"id": "1", "note": "monitoring", "apiKey": "XXXX",
                                      "permissions": {"Wallet": ["AccountTransfer"]},
                                      "deadlineDay": 30, "type": 1, **fields}}]


ENDPOINT = Endpoint(
    collector="api_key",
    path="/v5/user/query-api",
    uid_limit_per_second=10,
    targets=collector_target("api_key", ""),
    translate=translate,
    families=(*(item.family for item in FIELDS if item.family is not None), VIP_INFO),
    fields=(*FIELDS, *TIER),
    example=example,
    interval=3600.0,
)
