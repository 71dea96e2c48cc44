"""`GET /v5/account/info`: the margin mode (isolated, cross or portfolio margin)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from exporter.bybit.answers import result_of
from exporter.bybit.endpoint import Context, Endpoint, collector_target
from exporter.metrics.family import gauge
from exporter.metrics.fields import Field, Reader, Translation, text

ACCOUNT_INFO = gauge(
    "bybit_account_info",
    "The account's margin mode (marginMode): ISOLATED_MARGIN, REGULAR_MARGIN (cross) or "
    "PORTFOLIO_MARGIN; always 1.", "margin_mode")
MARGIN_MODE = Field("marginMode", text)
FIELDS = (MARGIN_MODE,)


def translate(payloads: Sequence[Any], _: Context) -> Translation:
    reader = Reader()
    mode = reader.read(result_of(payloads[0]), MARGIN_MODE, "")
    if mode is not None:
        reader.emit(ACCOUNT_INFO, (mode,), 1.0)
    return reader.result()


def example(value: Callable[[Field], Any]) -> list[Any]:
    return [{"retCode": 0, "result": {"unifiedMarginStatus": 5, "marginMode": value(MARGIN_MODE),
                                      "isMasterTrader": False, "spotHedgingStatus": "OFF"}}]


ENDPOINT = Endpoint(
    collector="account_info",
    path="/v5/account/info",
    uid_limit_per_second=50,
    targets=collector_target("account_info", ""),
    translate=translate,
    families=(ACCOUNT_INFO,),
    fields=FIELDS,
    example=example,
    interval=3600.0,
)
