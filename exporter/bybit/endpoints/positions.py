"""`GET /v5/position/list`: every open position, linear (USDT and USDC settled), inverse and
option, with how far its mark price is from its liquidation price, what protects it, an
option's greeks, and when an option or dated future expires."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from exporter.bybit.answers import InvalidResponse, list_of, name_of, result_of
from exporter.bybit.endpoint import (Context, Endpoint, Instrument, chosen_by_evidence,
                                     collector_target)
from exporter.metrics.family import Family, gauge
from exporter.metrics.fields import (Field, Reader, Translation, Unreadable, flag, millis_time,
                                     nonzero, number, numbers, rank, text)

LABELS = ("category", "symbol", "side", "position_idx")
QUERIES = ("category=linear&limit=200&settleCoin=USDT", "category=linear&limit=200&settleCoin=USDC",
           "category=inverse&limit=200", "category=option&limit=200")


LINEAR_USDT, LINEAR_USDC, INVERSE, OPTION = QUERIES
STABLE_SETTLE = {"USDT": LINEAR_USDT, "USDC": LINEAR_USDC}  # inverse settles in other coins
REFRESH_SECONDS = 300.0  # every query is asked at least this often, whatever the evidence
# A bought option holds no margin: the wallet cannot say whether options are held. Asked on an
# account's first poll, then like any other query: while it finds positions, and every 5 min.
UNKNOWABLE = (OPTION,)
EXPIRING = ("option", "linear", "inverse")  # categories with options and dated futures


def queries_called_for(evidence: Mapping[str, bool | None], complete: bool) -> set[str]:
    """The queries that can find positions, by the wallet's evidence (coin -> position margin:
    yes, no, or unknown). A settle coin with margin, or unknown, calls for its query; a coin
    the answer does not list has none, unless the answer is not `complete` (the account's
    `coins:` filter leaves coins out), when it is unknown."""
    def open_in(coin: str) -> bool:
        return evidence.get(coin, False if complete else None) is not False

    called = {query for coin, query in STABLE_SETTLE.items() if open_in(coin)}
    if not complete or any(state is not False for coin, state in evidence.items()
                           if coin not in STABLE_SETTLE):
        called.add(INVERSE)
    if not complete or None in evidence.values():  # portfolio margin: unknown everywhere
        called.add(OPTION)
    return called


def lists_open(payload: Any) -> bool:
    """Whether a well-formed answer lists a position of non-zero size."""
    rows = result_of(payload).get("list")
    return isinstance(rows, list) and any(isinstance(row, dict) and _open(row.get("size"))
                                          for row in rows)


def _open(size: Any) -> bool:
    try:
        return number(size) not in (None, 0.0)
    except Unreadable:
        return True  # unreadable: not known to be empty


def _family(name: str, help_text: str) -> Family:
    return gauge(name, help_text, *LABELS)


POSITION_SIZE = _family("bybit_position_size",
                          "Position size, in contracts or the base coin (size).")
SIZE = Field("size", number, POSITION_SIZE)
MARK = Field("markPrice", number, _family("bybit_position_mark_price",
                                            "Mark price of the position's symbol (markPrice)."))
LIQUIDATION = Field("liqPrice", number, _family(
    "bybit_position_liquidation_price",
    "Liquidation price (liqPrice): exact in isolated margin, an estimate in cross margin."))
VALUES = numbers(
    ("positionValue", _family("bybit_position_value", "Position value (positionValue).")),
    ("avgPrice", _family("bybit_position_entry_price", "Average entry price (avgPrice).")),
    ("unrealisedPnl", _family("bybit_position_unrealised_pnl",
                                "Unrealised PnL, in the settle coin (unrealisedPnl).")),
    ("positionIM", _family("bybit_position_initial_margin",
                             "Initial margin of the position (positionIM).")),
    ("positionMM", _family("bybit_position_maintenance_margin",
                             "Maintenance margin of the position (positionMM).")),
    ("leverage", _family("bybit_position_leverage", "Leverage of the position (leverage).")),
)
GREEKS = numbers(*((greek, _family(
    f"bybit_position_{greek}",
    f"{greek.title()} of the option position, for its size, as Bybit computes it ({greek}); "
    "absent in answers without greeks.")) for greek in ("delta", "gamma", "vega", "theta")))
EXPIRY = _family("bybit_position_expiry_timestamp_seconds",
                 "When the option or dated future expires (deliveryTime of Bybit's instruments "
                 "info); absent for perpetuals.")
DISTANCE = _family(
    "bybit_position_liquidation_distance_ratio",
    "How far the mark price is from the liquidation price, as a 0-1 ratio of the mark price: "
    "abs(markPrice - liqPrice) / markPrice; absent where there is no liquidation price.")
PROTECTION = (
    Field("adlRankIndicator", rank, _family(
        "bybit_position_adl_rank",
        "Auto-deleveraging rank, 1 to 5: the highest is deleveraged first (adlRankIndicator); "
        "absent for 0.")),
    Field("takeProfit", nonzero, _family(
        "bybit_position_take_profit_price",
        "The position's own take-profit price (takeProfit); absent when none is set.")),
    Field("stopLoss", nonzero, _family(
        "bybit_position_stop_loss_price",
        "The position's own stop-loss price (stopLoss); absent when none is set.")),
    Field("trailingStop", nonzero, _family(
        "bybit_position_trailing_stop_distance",
        "The position's trailing stop, as a distance from the market price in the price's unit "
        "(trailingStop); absent when none is set.")),
    Field("breakEvenPrice", nonzero, _family(
        "bybit_position_break_even_price",
        "Price at which closing the position makes no loss after fees (breakEvenPrice; linear "
        "and inverse).")),
    Field("curRealisedPnl", number, _family(
        "bybit_position_realised_pnl",
        "Realised PnL of the current holding, in the settle coin (curRealisedPnl).")),
)
STATUS = gauge("bybit_position_status",
               "1 on the position's status (positionStatus: Normal, Liq being liquidated, Adl "
               "being auto-deleveraged), 0 on the others.", *LABELS, "status")
STATUSES = ("Normal", "Liq", "Adl")  # a status Bybit adds later gets its own label value
REDUCE_ONLY = _family(
    "bybit_position_reduce_only",
    "1 if Bybit lowered the risk limit and the position may only shrink (isReduceOnly); linear "
    "and inverse, isolated and cross margin only.")
FORCED = _family(
    "bybit_position_forced_adjustment_timestamp_seconds",
    "While the position is reduce-only: when Bybit adjusts its leverage or maintenance margin "
    "rate by force, the earlier of leverageSysUpdatedTime and mmrSysUpdatedTime.")
STATUS_FIELD = Field("positionStatus", text)
REDUCE_ONLY_FIELD = Field("isReduceOnly", flag)
# Bybit's answers spell the second one both ways (mmrSysUpdatedTime, mmrSysUpdateTime)
FORCED_FIELDS = (Field("leverageSysUpdatedTime", millis_time),
                 Field("mmrSysUpdatedTime", millis_time), Field("mmrSysUpdateTime", millis_time))
REDUCE_ONLY_CATEGORIES = ("linear", "inverse")
SIDE = Field("side", text)
INDEX = Field("positionIdx", text)
FIELDS = (SIZE, MARK, LIQUIDATION, *VALUES, *PROTECTION, *GREEKS, STATUS_FIELD,
          REDUCE_ONLY_FIELD, *FORCED_FIELDS, SIDE, INDEX)
MAX_POSITIONS = 5000


def translate(payloads: Sequence[Any], context: Context) -> Translation:
    reader = Reader()
    seen: set[tuple[str, ...]] = set()
    for payload in payloads:
        result = result_of(payload)
        category = name_of(result, "category", "result")
        for item in list_of(result, "list", "result", MAX_POSITIONS, required=False):
            symbol = name_of(item, "symbol", f"{category} positions")
            row = Reader()
            labels, size = _read_row(row, item, category, symbol)
            row.emit(EXPIRY, labels, context.expiries.get((category, symbol)))
            is_open = size != 0.0  # size 0: an empty slot, not a position
            if is_open and labels in seen:
                raise InvalidResponse(f"position {' '.join(labels)} listed twice")
            seen.add(labels)
            reader.absorb(row, samples=is_open)
    return reader.result()


def _read_row(row: Reader, item: dict[str, Any], category: str,
              symbol: str) -> tuple[tuple[str, ...], float | None]:
    """Every field of one position row, read into `row`: its labels and size."""
    where = f"{category} {symbol}"
    size = row.read(item, SIZE, where)
    labels = (category, symbol, row.read(item, SIDE, where) or "",
              row.read(item, INDEX, where) or "0")
    row.emit(POSITION_SIZE, labels, size)
    values = row.fields(item, (MARK, LIQUIDATION, *VALUES, *PROTECTION, *GREEKS), labels, where)
    row.emit(DISTANCE, labels, liquidation_distance(values["markPrice"], values["liqPrice"]))
    _read_status(row, item, labels, where)
    meaningful = category in REDUCE_ONLY_CATEGORIES and values["leverage"] is not None
    _read_restriction(row, item, labels, where, meaningful)
    return labels, size


def _read_status(row: Reader, item: dict[str, Any], labels: tuple[str, ...], where: str) -> None:
    """The state set: 1 on the current status, 0 on the others Bybit documents."""
    current = row.read(item, STATUS_FIELD, where)
    if current is None:
        return
    for status in dict.fromkeys((*STATUSES, current)):
        row.emit(STATUS, (*labels, status), 1.0 if status == current else 0.0)


def _read_restriction(row: Reader, item: dict[str, Any], labels: tuple[str, ...], where: str,
                      meaningful: bool) -> None:
    """Reduce-only, and when Bybit forces the adjustment. Bybit says it is meaningful only for
    linear and inverse, in isolated and cross margin: options and rows without leverage
    (portfolio margin) export neither, though what they send is read all the same."""
    reduce_only = row.read(item, REDUCE_ONLY_FIELD, where)
    times = [row.read(item, field, where) for field in FORCED_FIELDS if field.key in item]
    if not meaningful:
        return
    row.emit(REDUCE_ONLY, labels, reduce_only)
    if reduce_only:
        row.emit(FORCED, labels, min((t for t in times if t is not None), default=None))


def liquidation_distance(mark: float | None, liquidation: float | None) -> float | None:
    """abs(mark - liquidation) / mark; none without a liquidation price ("" or 0)."""
    if mark is None or mark <= 0 or not liquidation:
        return None
    return abs(mark - liquidation) / mark


def open_symbols(payloads: Sequence[Any]) -> set[str]:
    """The symbols of the open positions of well-formed answers."""
    return {symbol for _, symbol in _open_rows(payloads)}


def _open_rows(payloads: Sequence[Any]) -> set[Instrument]:
    found: set[Instrument] = set()
    for payload in payloads:
        result = payload.get("result") if isinstance(payload, dict) else None
        category = result.get("category") if isinstance(result, dict) else None
        rows = result.get("list") if isinstance(result, dict) else None
        if not isinstance(category, str) or not isinstance(rows, list):
            continue
        found |= {(category, row["symbol"]) for row in rows if isinstance(row, dict)
                  and isinstance(row.get("symbol"), str) and _open(row.get("size"))}
    return found


def instruments(payloads: Sequence[Any]) -> set[Instrument]:
    """The (category, symbol) of every open position that can expire; nothing of an answer of
    the wrong shape (the translation refuses it)."""
    return {row for row in _open_rows(payloads) if row[0] in EXPIRING}


def example(value: Callable[[Field], Any]) -> list[Any]:
    def row(symbol: str, index: str) -> dict[str, Any]:
        return {"symbol": symbol, "riskId": 1, "positionStatus": "Normal",
                **{item.key: value(item) for item in FIELDS if item is not INDEX},
                "positionIdx": index}

    return [{"retCode": 0, "result": {"category": "linear", "nextPageCursor": "",
                                      "list": [row("BTCUSDT", "1"), row("BTCUSDT", "2")]}},
            {"retCode": 0, "result": {"category": "inverse", "nextPageCursor": "",
                                      "list": [row("BTCUSD", "0")]}},
            {"retCode": 0, "result": {"category": "option", "nextPageCursor": "",
                                      "list": [row("BTC-27DEC26-100000-C", "0")]}}]


ENDPOINT = Endpoint(
    collector="positions",
    path="/v5/position/list",
    uid_limit_per_second=50,
    targets=collector_target("positions", *QUERIES),
    translate=translate,
    families=(*(item.family for item in (SIZE, MARK, LIQUIDATION, *VALUES) if item.family),
              DISTANCE, *(item.family for item in PROTECTION if item.family), STATUS,
              REDUCE_ONLY, FORCED, *(item.family for item in GREEKS if item.family), EXPIRY),
    fields=FIELDS,
    example=example,
    margin=True,
    paginated=True,
    permission="Contract (read) or Derivatives",
    typical_requests=chosen_by_evidence(len(QUERIES), REFRESH_SECONDS),
    instruments=instruments,
)
