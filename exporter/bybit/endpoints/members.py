"""`GET /v5/asset/total-members-assets`: a master key's USD total per sub-account, in one call."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from exporter.bybit.answers import named_entries, result_of
from exporter.bybit.endpoint import Context, Endpoint, collector_target
from exporter.metrics.family import gauge
from exporter.metrics.fields import Field, Reader, Translation, number

MEMBER_EQUITY = gauge(
    "bybit_member_equity_usd",
    "USD total of one account under this master key (total-members-assets origb); "
    "member_uid is the sub-account's (or the master's) UID.", "member_uid")
EQUITY = Field("origb", number, MEMBER_EQUITY)
STAT = Field("stat", number)  # 0 when Bybit could compute the figure; otherwise do not trust it
FIELDS = (EQUITY, STAT)


def translate(payloads: Sequence[Any], _: Context) -> Translation:
    reader = Reader()
    for uid, item in named_entries(result_of(payloads[0]), "list", "uid", "result"):
        # a uid may exceed 2^53: kept as text
        equity = reader.read(item, EQUITY, f"member {uid}")
        stat = reader.read(item, STAT, f"member {uid}")
        if stat in (None, 0.0):
            reader.emit(MEMBER_EQUITY, (uid,), equity)
    return reader.result()


def example(value: Callable[[Field], Any]) -> list[Any]:
    members = [{"uid": uid, "isM": uid == "100", "quoteb": "0.1", "items": [],
                **{item.key: value(item) for item in FIELDS}}
               for uid in ("100", "9007199254740993")]
    return [{"retCode": 0, "result": {"total": "1000", "stat": 0, "list": members}}]


ENDPOINT = Endpoint(
    collector="members",
    path="/v5/asset/total-members-assets",
    uid_limit_per_second=50,
    targets=collector_target("members", ""),
    translate=translate,
    families=(MEMBER_EQUITY,),
    fields=FIELDS,
    example=example,
    interval=300.0,
    permission="Wallet (on a master key)",
)
