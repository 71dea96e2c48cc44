"""Open orders (`/v5/order/realtime`): plain, conditional and TP/SL orders shaped as Bybit answers
them, newest first, in pages of at most 50; and what they hold in the wallet (order margin of
derivative orders, coins locked by spot orders)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from exporter.simulator import paging
from exporter.simulator.positions import Position
from exporter.simulator.wallets import num

DEFAULT_LIMIT, MAX_LIMIT = 20, 50
CATEGORIES = ("linear", "inverse", "spot", "option")
STOP_FILTERS = {"Order": False, "StopOrder": True, "tpslOrder": True}  # orderFilter -> a stop?


@dataclass(frozen=True)
class Order:
    symbol: str
    side: str  # "Buy" or "Sell"
    qty: float
    price: float = 0.0  # 0: a market order
    category: str = "linear"  # linear, inverse or spot
    settle_coin: str = "USDT"  # linear: USDT or USDC; inverse: the base coin; spot: the quote
    base_coin: str = "BTC"
    stop_order_type: str = ""  # "" a plain order; TakeProfit, StopLoss, TrailingStop, Stop...
    trigger_price: float = 0.0
    filled: float = 0.0  # of qty
    reduce_only: bool = False
    close_on_trigger: bool = False
    position_idx: int = 0
    created_ms: int = 1_716_000_000_000
    order_id: str = ""

    @property
    def leaves(self) -> float:
        return self.qty - self.filled

    def row(self) -> dict[str, Any]:
        conditional = bool(self.stop_order_type)
        return {
            "orderId": self.order_id or f"{self.symbol}-{self.created_ms}-{self.side}",
            "orderLinkId": "", "blockTradeId": "", "symbol": self.symbol,
            "price": f"{self.price:.2f}", "qty": _qty(self.qty), "side": self.side,
            "isLeverage": "0" if self.category == "spot" else "", "positionIdx": self.position_idx,
            "orderStatus": "Untriggered" if conditional else (
                "PartiallyFilled" if self.filled else "New"),
            "cancelType": "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": "0",
            "leavesQty": _qty(self.leaves), "leavesValue": num(self.leaves * self.price),
            "cumExecQty": _qty(self.filled), "cumExecValue": num(self.filled * self.price),
            "cumExecFee": "0", "timeInForce": "GTC" if self.price else "IOC",
            "orderType": "Limit" if self.price else "Market",
            "stopOrderType": self.stop_order_type or "UNKNOWN", "orderIv": "",
            "triggerPrice": f"{self.trigger_price:.2f}", "takeProfit": "0.00",
            "stopLoss": "0.00", "tpTriggerBy": "", "slTriggerBy": "",
            "triggerDirection": 0, "triggerBy": "LastPrice" if conditional else "UNKNOWN",
            "lastPriceOnCreated": "", "reduceOnly": self.reduce_only,
            "closeOnTrigger": self.close_on_trigger, "smpType": "None", "smpGroup": 0,
            "smpOrderId": "", "tpslMode": "Partial" if "Partial" in self.stop_order_type else "",
            "tpLimitPrice": "", "slLimitPrice": "", "placeType": "",
            "createdTime": str(self.created_ms), "updatedTime": str(self.created_ms + 5),
        }


def _qty(value: float) -> str:
    return f"{value:.3f}"


def select(orders: Sequence[Order], params: dict[str, str]) -> list[Order]:
    """The open orders a query asks for, newest first, as Bybit filters them; ValueError for a
    bad query."""
    category = params.get("category", "")
    symbol, base, settle = (params.get(k, "") for k in ("symbol", "baseCoin", "settleCoin"))
    if category not in CATEGORIES:
        raise ValueError("params error: category is invalid")
    if category == "linear" and not (symbol or base or settle):
        raise ValueError("params error: symbol, baseCoin or settleCoin is required")
    wanted = params.get("orderFilter", "")
    if wanted and wanted not in STOP_FILTERS:
        raise ValueError("params error: orderFilter is invalid")
    chosen = [o for o in orders if o.category == category and o.leaves > 0
              and (not symbol or o.symbol == symbol) and (not base or o.base_coin == base)
              and (not settle or o.settle_coin == settle)
              and (not wanted or bool(o.stop_order_type) == STOP_FILTERS[wanted])]
    return sorted(chosen, key=lambda o: -o.created_ms)


def page(rows: list[Order], params: dict[str, str]) -> tuple[list[Order], str]:
    return paging.page(rows, params, DEFAULT_LIMIT, MAX_LIMIT, lambda o: o.row()["orderId"])


def held(orders: Sequence[Order]) -> tuple[dict[str, float], dict[str, float]]:
    """What open orders hold, by coin: the initial margin of derivative orders that can open
    a position (totalOrderIM), and the coins spot orders lock (locked)."""
    margin: dict[str, float] = {}
    locked: dict[str, float] = {}
    for o in orders:
        if o.category == "spot":
            coin, amount = (o.settle_coin, o.leaves * o.price) if o.side == "Buy" else \
                (o.base_coin, o.leaves)
            locked[coin] = locked.get(coin, 0.0) + amount
        elif not (o.reduce_only or o.close_on_trigger or o.stop_order_type):
            value = o.leaves / o.price if o.category == "inverse" else o.leaves * o.price
            margin[o.settle_coin] = margin.get(o.settle_coin, 0.0) + value / 10
    return margin, locked


# a position's own TP/SL: the conditional orders Bybit makes of it, each of the position's size
OWN_STOPS = (("take_profit", "TakeProfit"), ("stop_loss", "StopLoss"),
             ("trailing_stop", "TrailingStop"))


def position_orders(p: Position) -> list[Order]:
    """The Untriggered, reduce-only, close-on-trigger orders of a position's own take profit,
    stop loss and trailing stop, as Bybit lists them among the open orders."""
    if not p.size:
        return []
    closing = "Sell" if p.side == "Buy" else "Buy"
    base = p.settle_coin if p.category == "inverse" else p.symbol.removesuffix(p.settle_coin)
    return [Order(p.symbol, closing, p.size, 0.0, category=p.category,
                  settle_coin=p.settle_coin, base_coin=base.removesuffix("PERP"),
                  stop_order_type=kind,
                  trigger_price=0.0 if kind == "TrailingStop" else getattr(p, field),
                  reduce_only=True, close_on_trigger=True, position_idx=p.position_idx,
                  order_id=f"{p.symbol}-{p.position_idx}-{kind}")
            for field, kind in OWN_STOPS if getattr(p, field)]
