"""`GET /v5/order/realtime`: the open orders, counted by kind, and the stop orders that would
close each position (for its stop coverage)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from exporter.bybit.answers import list_of, name_of, result_of
from exporter.bybit.endpoint import Context, Endpoint, chosen_by_evidence, collector_target
from exporter.bybit.endpoints import positions
from exporter.bybit.endpoints.wallet import NOT_LISTED, UNKNOWN, CoinEvidence
from exporter.metrics.family import gauge
from exporter.metrics.fields import Field, Reader, Translation, flag, number, text

LINEAR_USDT = "category=linear&settleCoin=USDT&limit=50"
LINEAR_USDC = "category=linear&settleCoin=USDC&limit=50"
INVERSE = "category=inverse&limit=50"
SPOT = "category=spot&limit=50"
QUERIES = (LINEAR_USDT, LINEAR_USDC, INVERSE, SPOT)
# the orders query of each positions query: orders there can close its positions
FOR_POSITIONS = {positions.LINEAR_USDT: LINEAR_USDT, positions.LINEAR_USDC: LINEAR_USDC,
                 positions.INVERSE: INVERSE}
STABLE_SETTLE = {"USDT": LINEAR_USDT, "USDC": LINEAR_USDC}  # inverse settles in other coins
REFRESH_SECONDS = 300.0  # every query is asked at least this often, whatever the evidence

ORDER_LABELS = ("category", "symbol", "side", "kind")
OPEN_ORDERS = gauge("bybit_open_orders", "Open orders, by kind: limit, market, take_profit, "
                    "stop_loss, trailing_stop or conditional (orderType, stopOrderType).",
                    *ORDER_LABELS)
OPEN_QUANTITY = gauge("bybit_open_order_quantity",
                      "Unfilled quantity of the open orders, by kind (leavesQty, summed).",
                      *ORDER_LABELS)
STOP_QUANTITY = gauge(
    "bybit_position_stop_order_quantity",
    "Unfilled quantity of the stop-loss and trailing-stop orders that can only close the "
    "position (reduce-only or close-on-trigger), labelled like the position they would close.",
    *positions.LABELS)

SIDE = Field("side", text)
ORDER_TYPE = Field("orderType", text)
STOP_TYPE = Field("stopOrderType", text)
LEAVES = Field("leavesQty", number)
REDUCE_ONLY = Field("reduceOnly", flag)
CLOSE_ON_TRIGGER = Field("closeOnTrigger", flag)
INDEX = Field("positionIdx", text)
FIELDS = (SIDE, ORDER_TYPE, STOP_TYPE, LEAVES, REDUCE_ONLY, CLOSE_ON_TRIGGER, INDEX)

STOP_KINDS = {"TakeProfit": "take_profit", "PartialTakeProfit": "take_profit",
              "StopLoss": "stop_loss", "PartialStopLoss": "stop_loss",
              "TrailingStop": "trailing_stop"}
PLAIN = ("", "UNKNOWN")  # stopOrderType of an order that is no conditional one
CLOSING_KINDS = ("stop_loss", "trailing_stop")
POSITION_CATEGORIES = ("linear", "inverse")
HEDGE_SIDES = {"1": "Buy", "2": "Sell"}  # positionIdx of the two sides of hedge mode
OPPOSITE = {"Buy": "Sell", "Sell": "Buy"}
MAX_ORDERS = 1000


def kind_of(order_type: str | None, stop_type: str | None) -> str | None:
    """The order's kind, or None when it cannot be told (no orderType on a plain order)."""
    if stop_type not in (None, *PLAIN):
        return STOP_KINDS.get(stop_type, "conditional")
    return order_type.lower() if order_type else None


def position_side(order_side: str, index: str) -> str:
    """The side of the position an order closes: hedge mode names it; in one-way mode (0) it
    is the order's opposite."""
    return HEDGE_SIDES.get(index) or OPPOSITE.get(order_side, "")


@dataclass
class _Sum:
    """A quantity summed over orders; unknown once one of them has none readable."""
    total: float = 0.0
    known: bool = True

    def add(self, value: float | None) -> None:
        if value is None:
            self.known = False
        else:
            self.total += value

    @property
    def value(self) -> float | None:
        return self.total if self.known else None


@dataclass
class _Symbol:
    """One symbol's open orders of one category: by (side, kind), and the stops by the
    (side, position_idx) of the position they close."""
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    quantities: defaultdict[tuple[str, str], _Sum] = field(
        default_factory=lambda: defaultdict(_Sum))
    stops: defaultdict[tuple[str, str], _Sum] = field(default_factory=lambda: defaultdict(_Sum))
    complete: bool = True  # every order had a side and a kind


def translate(payloads: Sequence[Any], _: Context) -> Translation:
    reader = Reader()
    symbols: dict[tuple[str, str], _Symbol] = {}
    for payload in payloads:
        result = result_of(payload)
        category = name_of(result, "category", "result")
        for item in list_of(result, "list", "result", MAX_ORDERS, required=False):
            symbol = name_of(item, "symbol", f"{category} orders")
            book = symbols.setdefault((category, symbol), _Symbol())
            _read_order(reader, book, item, category, f"{category} {symbol} order")
    for (category, symbol), book in symbols.items():
        _emit(reader, category, symbol, book)
    return reader.result()


def _read_order(reader: Reader, book: _Symbol, item: Mapping[str, Any], category: str,
                where: str) -> None:
    values = {one.key: reader.read(item, one, where) for one in FIELDS}
    side, kind = values["side"], kind_of(values["orderType"], values["stopOrderType"])
    if side is None or kind is None:
        book.complete = False  # an order that cannot be placed: the symbol's counts are unknown
        return
    book.counts[side, kind] = book.counts.get((side, kind), 0) + 1
    book.quantities[side, kind].add(values["leavesQty"])
    if category in POSITION_CATEGORIES and kind in CLOSING_KINDS:
        index = values["positionIdx"] or "0"
        closes = _closes_only(values["reduceOnly"], values["closeOnTrigger"])
        # one that could open a position covers none of it; one not known to close, unknown
        covered = values["leavesQty"] if closes else (None if closes is None else 0.0)
        book.stops[position_side(side, index), index].add(covered)


def _closes_only(reduce_only: float | None, close_on_trigger: float | None) -> bool | None:
    """Whether the order can only close a position: yes if either flag says so, unknown if a
    flag is missing and the other does not say so."""
    if 1.0 in (reduce_only, close_on_trigger):
        return True
    return None if None in (reduce_only, close_on_trigger) else False


def _emit(reader: Reader, category: str, symbol: str, book: _Symbol) -> None:
    if not book.complete:
        return
    for (side, kind), count in book.counts.items():
        reader.emit(OPEN_ORDERS, (category, symbol, side, kind), float(count))
        reader.emit(OPEN_QUANTITY, (category, symbol, side, kind),
                    book.quantities[side, kind].value)
    for (side, index), quantity in book.stops.items():
        if side:
            reader.emit(STOP_QUANTITY, (category, symbol, side, index), quantity.value)


def lists_any(payload: Any) -> bool:
    """Whether a well-formed answer lists an order."""
    rows = result_of(payload).get("list")
    return isinstance(rows, list) and bool(rows)


def queries_called_for(holding: set[str] | None, wallet: Mapping[str, CoinEvidence] | None,
                       complete: bool) -> set[str]:
    """The queries that can find orders that matter: the categories where positions are held
    (`holding`: the positions queries whose last answer listed one; None: not known), settle
    coins whose orders hold margin, and spot where orders lock a coin (`wallet`: the wallet's
    evidence per coin; None: none). What is not known calls for its query; a coin that a
    `complete` answer does not list has nothing."""
    if wallet is None:
        return set(QUERIES)
    called = set(FOR_POSITIONS.values()) if holding is None else \
        {FOR_POSITIONS[query] for query in holding if query in FOR_POSITIONS}

    def facts(coin: str) -> CoinEvidence:
        return wallet.get(coin, NOT_LISTED if complete else UNKNOWN)

    called |= {query for coin, query in STABLE_SETTLE.items()
               if facts(coin).order_margin is not False}
    others = [found for coin, found in wallet.items() if coin not in STABLE_SETTLE]
    if not complete or any(found.order_margin is not False for found in others):
        called.add(INVERSE)
    if not complete or any(found.locked is not False for found in wallet.values()):
        called.add(SPOT)
    return called


def example(value: Callable[[Field], Any]) -> list[Any]:
    def order(symbol: str, index: str, stop_type: str) -> dict[str, Any]:
        return {"orderId": f"{symbol}-{index}-{stop_type}", "symbol": symbol,
                "orderStatus": "New", "qty": "1", "price": "60000", "triggerPrice": "0.00",
                "stopOrderType": stop_type,
                **{item.key: value(item) for item in FIELDS if item is not INDEX},
                "positionIdx": index}

    return [{"retCode": 0, "result": {"category": "linear", "nextPageCursor": "",
                                      "list": [order("BTCUSDT", "1", "StopLoss"),
                                               order("BTCUSDT", "2", "TakeProfit")]}},
            {"retCode": 0, "result": {"category": "spot", "nextPageCursor": "",
                                      "list": [order("ETHUSDT", "0", "")]}}]


ENDPOINT = Endpoint(
    collector="orders",
    path="/v5/order/realtime",
    uid_limit_per_second=50,
    targets=collector_target("orders", *QUERIES),
    translate=translate,
    families=(OPEN_ORDERS, OPEN_QUANTITY, STOP_QUANTITY),
    fields=FIELDS,
    example=example,
    interval=60.0,
    paginated=True,
    permission="Contract or Spot (read): Orders",
    typical_requests=chosen_by_evidence(len(QUERIES), REFRESH_SECONDS),
)
