"""Positions (`/v5/position/list`): rows shaped as Bybit answers them, and cursor pagination."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from exporter.simulator import paging
from exporter.simulator.wallets import num

PriceFn = Callable[[float], float]
StatusFn = Callable[[float], str]
DEFAULT_LIMIT, MAX_LIMIT = 20, 200


def normal(_: float) -> str:
    return "Normal"


def liquidated_now_and_then(every: float = 300.0, lasting: float = 30.0,
                            offset: float = 120.0) -> StatusFn:
    """"Liq" for `lasting` seconds every `every` seconds (from `offset` on), else "Normal"."""
    return lambda t: "Liq" if t >= offset and (t - offset) % every < lasting else "Normal"


def swinging(price: float, swing: float = 0.03, period: float = 600.0) -> PriceFn:
    return lambda t: price * (1 + swing * math.sin(2 * math.pi * t / period))


def drifting_to(liq_price: float, side: str, start: float = 0.30, end: float = 0.03,
                tau: float = 150.0) -> PriceFn:
    """A mark price whose liquidation distance abs(mark - liq) / mark falls from `start` toward
    `end` with time constant `tau` seconds (0.30 -> under 0.05 after about 6.5 minutes)."""

    def mark(t: float) -> float:
        distance = end + (start - end) * math.exp(-t / tau)
        return liq_price / (1 - distance) if side == "Buy" else liq_price / (1 + distance)

    return mark


@dataclass(frozen=True)
class Position:
    symbol: str
    side: str  # "Buy", "Sell", or "" for an empty slot
    size: float  # contracts; inverse: USD
    avg_price: float
    mark: PriceFn
    category: str = "linear"  # or "inverse"
    settle_coin: str = "USDT"  # linear: USDT or USDC; inverse: the base coin
    leverage: float = 10.0
    liq_price: float | None = None  # None: "" (none, or out of range)
    position_idx: int = 0  # 0 one-way, 1 hedge-mode buy side, 2 hedge-mode sell side
    # what stands between it and its liquidation
    stop_loss: float | None = None  # None: none set ("0.00")
    take_profit: float | None = None
    trailing_stop: float | None = None  # a distance from the market price
    adl_rank: int = 2
    status: StatusFn = normal
    forced_adjustment_ms: int | None = None  # set: reduce-only, Bybit adjusts it at that time

    def liquidation_distance(self, t: float) -> float | None:
        if self.liq_price is None:
            return None
        mark = self.mark(t)
        return abs(mark - self.liq_price) / mark

    def row(self, t: float, now_ms: int, margin_mode: str) -> dict[str, Any]:
        mark = self.mark(t)
        row = {**_common(self, mark, now_ms), **(_open(self, mark) if self.size else _EMPTY)}
        if self.size:
            row["positionStatus"] = self.status(t)
        if margin_mode == "PORTFOLIO_MARGIN":
            row.update({key: "" for key in _NOT_IN_PORTFOLIO_MARGIN})
        return row


_EMPTY = {"side": "", "size": "0", "avgPrice": "0", "positionValue": "", "unrealisedPnl": "",
          "liqPrice": "", "positionIM": "0", "positionMM": "0", "positionIMByMp": "0",
          "positionMMByMp": "0", "positionBalance": "0", "breakEvenPrice": "0",
          "adlRankIndicator": 0}
_NOT_IN_PORTFOLIO_MARGIN = ("leverage", "liqPrice", "positionIM", "positionMM", "positionIMByMp",
                            "positionMMByMp")


def _common(p: Position, mark: float, now_ms: int) -> dict[str, Any]:
    forced = str(p.forced_adjustment_ms) if p.forced_adjustment_ms else ""
    return {
        "positionIdx": p.position_idx, "riskId": 1, "riskLimitValue": "2000000",
        "symbol": p.symbol, "leverage": f"{p.leverage:g}", "markPrice": f"{mark:.2f}",
        "tradeMode": 0, "positionStatus": "Normal", "autoAddMargin": 0, "bustPrice": "",
        "tpslMode": "Full", "takeProfit": _price(p.take_profit),
        "stopLoss": _price(p.stop_loss), "trailingStop": _price(p.trailing_stop),
        "sessionAvgPrice": "", "delta": "", "gamma": "", "vega": "", "theta": "",
        "curRealisedPnl": "-0.0125", "cumRealisedPnl": "-3.75", "seq": now_ms // 10,
        "isReduceOnly": p.forced_adjustment_ms is not None, "mmrSysUpdatedTime": forced,
        "leverageSysUpdatedTime": "", "createdTime": "1716000000000",
        "updatedTime": str(now_ms - 5000),
    }


def _price(value: float | None) -> str:
    """A stop or target as Bybit sends it: "0.00" when none is set."""
    return f"{value or 0:.2f}"


def _value(p: Position) -> float:
    """The position's value at entry, in its settle coin."""
    return p.size / p.avg_price if p.category == "inverse" else p.size * p.avg_price


def margins(positions: Sequence[Position]) -> dict[str, tuple[float, float]]:
    """Initial and maintenance margin of the open positions, by settle coin: what the wallet
    answer's totalPositionIM and totalPositionMM say of each coin."""
    found: dict[str, tuple[float, float]] = {}
    for p in positions:
        if p.size > 0:
            im, mm = found.get(p.settle_coin, (0.0, 0.0))
            found[p.settle_coin] = (im + _value(p) / p.leverage, mm + _value(p) * 0.005)
    return found


def _open(p: Position, mark: float) -> dict[str, Any]:
    sign = 1 if p.side == "Buy" else -1
    if p.category == "inverse":
        pnl = sign * p.size * (1 / p.avg_price - 1 / mark)
    else:
        pnl = sign * p.size * (mark - p.avg_price)
    value = _value(p)
    im, mm = value / p.leverage, value * 0.005
    return {
        "side": p.side, "size": f"{p.size:.0f}" if p.category == "inverse" else f"{p.size:.3f}",
        "avgPrice": f"{p.avg_price:.2f}", "positionValue": num(value), "unrealisedPnl": num(pnl),
        "liqPrice": f"{p.liq_price:.2f}" if p.liq_price is not None else "",
        "positionIM": num(im), "positionMM": num(mm), "positionIMByMp": num(im),
        "positionMMByMp": num(mm), "positionBalance": num(im),
        "breakEvenPrice": f"{p.avg_price * (1 + sign * 0.0011):.2f}",
        "adlRankIndicator": p.adl_rank,
    }


def select(positions: Sequence[Position], params: dict[str, str]) -> list[Position]:
    """The positions a query asks for, as Bybit filters them; ValueError for a bad query."""
    category, symbol, settle = (params.get(k, "") for k in ("category", "symbol", "settleCoin"))
    if category not in ("linear", "inverse", "option"):
        raise ValueError("params error: category is invalid")
    if category == "linear" and not (symbol or settle):
        raise ValueError("params error: symbol or settleCoin is required")
    chosen = [p for p in positions if p.category == category
              and (not symbol or p.symbol == symbol) and (not settle or p.settle_coin == settle)]
    if settle and not symbol:
        chosen = [p for p in chosen if p.size > 0]
    return sorted(chosen, key=lambda p: (p.symbol, p.position_idx))


def page(rows: list[Position], params: dict[str, str]) -> tuple[list[Position], str]:
    return paging.page(rows, params, DEFAULT_LIMIT, MAX_LIMIT, lambda p: p.symbol)
