"""Options: positions (`category=option`, rows shaped as the captured 2025 answers), the greeks
per base coin (`/v5/asset/coin-greeks`), option margin per settle coin
(`/v5/account/option-asset-info`), market-maker protection (`/v5/account/mmp-state`), and when
each option or dated future expires (`deliveryTime` of the public instruments info)."""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from exporter.simulator import paging
from exporter.simulator.wallets import num

MONTHS = {name.upper(): index for index, name in enumerate(calendar.month_abbr) if name}
FUTURE_MONTH_CODES = "FGHJKMNQUVXZ"  # January ... December, as inverse futures name them
_DATED = re.compile(r"-(\d{1,2})([A-Z]{3})(\d{2})(?:-|$)")
_INVERSE_DATED = re.compile(r"USD([FGHJKMNQUVXZ])(\d{2})$")
NO_MMP = (110065, "MMP hasn't yet been enabled for your account. Please contact your BD manager.")
DEFAULT_LIMIT, MAX_LIMIT = 20, 200


def expiry_ms(symbol: str) -> int:
    """When an option or dated future expires (08:00 UTC on its day; inverse futures such as
    BTCUSDZ26: the last Friday of the month); 0 for a perpetual, as Bybit's deliveryTime."""
    dated = _DATED.search(symbol)
    if dated:
        day, month, year = int(dated[1]), MONTHS[dated[2]], 2000 + int(dated[3])
    else:
        inverse = _INVERSE_DATED.search(symbol)
        if not inverse:
            return 0
        month, year = FUTURE_MONTH_CODES.index(inverse[1]) + 1, 2000 + int(inverse[2])
        day = max(week[calendar.FRIDAY] for week in calendar.monthcalendar(year, month))
    return int(datetime(year, month, day, 8, tzinfo=UTC).timestamp() * 1000)


def base_coin(symbol: str) -> str:
    return symbol.split("-", 1)[0]


@dataclass(frozen=True)
class OptionPosition:
    symbol: str  # BTC-27DEC26-100000-C (settled in USDC) or SOL-16JUL25-155-P-USDT
    side: str  # "Buy" (bought) or "Sell" (written)
    size: float
    avg_price: float
    mark: Callable[[float], float]  # the option's mark price at t
    delta: Callable[[float], float]  # per contract, of a bought option, at t
    greeks: bool = True  # False: a row as Bybit sent them before 2024-03, without greeks

    @property
    def settle_coin(self) -> str:
        return "USDT" if self.symbol.endswith("-USDT") else "USDC"

    @property
    def sign(self) -> float:
        return 1.0 if self.side == "Buy" else -1.0

    def position_greeks(self, t: float) -> dict[str, float]:
        """The greeks of the whole position (Bybit's rows give them for the position's size)."""
        per_contract = {"delta": self.delta(t), "gamma": 0.00004 * (1 + 0.3 * math.sin(t / 90)),
                        "vega": 12.5 * (1 + 0.1 * math.sin(t / 120)),
                        "theta": -8.25 * (1 + 0.2 * math.sin(t / 150))}
        return {name: self.sign * self.size * value for name, value in per_contract.items()}

    def margin(self, t: float) -> float:
        """Maintenance margin: none for a bought option, a share of the notional when written."""
        return 0.0 if self.side == "Buy" else self.size * self.mark(t) * 1.5

    def row(self, t: float, now_ms: int) -> dict[str, Any]:
        mark = self.mark(t)
        row = {
            "symbol": self.symbol, "leverage": "", "autoAddMargin": 0,
            "avgPrice": f"{self.avg_price:g}", "liqPrice": "", "riskLimitValue": "",
            "takeProfit": "", "positionValue": num(self.size * mark), "isReduceOnly": False,
            "positionIMByMp": "", "tpslMode": "Full", "riskId": 0, "trailingStop": "",
            "unrealisedPnl": num(self.sign * self.size * (mark - self.avg_price)),
            "markPrice": num(mark), "adlRankIndicator": 0, "cumRealisedPnl": "",
            "positionMM": num(self.margin(t)), "createdTime": "1754389716600",
            "positionIdx": 0, "positionIM": num(self.margin(t) * 1.3),
            "positionMMByMp": "", "seq": now_ms // 10, "updatedTime": str(now_ms - 3000),
            "side": self.side, "bustPrice": "", "positionBalance": "",
            "leverageSysUpdatedTime": "", "curRealisedPnl": "-0.0427", "size": f"{self.size:g}",
            "positionStatus": "Normal", "mmrSysUpdatedTime": "", "stopLoss": "", "tradeMode": 0,
            "sessionAvgPrice": "",
        }
        if self.greeks:
            row.update({name: f"{value:.9f}" for name, value in self.position_greeks(t).items()})
        return row


def select(options: Sequence[OptionPosition], params: dict[str, str]) -> list[OptionPosition]:
    base, symbol = params.get("baseCoin", ""), params.get("symbol", "")
    return sorted((o for o in options if (not base or base_coin(o.symbol) == base)
                   and (not symbol or o.symbol == symbol)), key=lambda o: o.symbol)


def page(rows: list[OptionPosition], params: dict[str, str]) -> tuple[list[OptionPosition], str]:
    return paging.page(rows, params, DEFAULT_LIMIT, MAX_LIMIT, lambda o: o.symbol)


def coin_greeks(options: Sequence[OptionPosition], t: float, wanted: str) -> list[dict[str, Any]]:
    """The account's greeks per base coin: the sums over its option positions."""
    totals: dict[str, dict[str, float]] = {}
    for o in options:
        coin = totals.setdefault(base_coin(o.symbol), dict.fromkeys(
            ("delta", "gamma", "vega", "theta"), 0.0))
        for name, value in o.position_greeks(t).items():
            coin[name] += value
    return [{"baseCoin": coin, **{f"total{name.title()}": f"{value:.8f}"
                                  for name, value in greeks.items()}}
            for coin, greeks in sorted(totals.items()) if not wanted or coin == wanted]


def asset_info(options: Sequence[OptionPosition], t: float, now_ms: int) -> list[dict[str, Any]]:
    """Option margin and PnL per settle coin (option-asset-info's result.result)."""
    rows: dict[str, dict[str, float]] = {}
    for o in options:
        row = rows.setdefault(o.settle_coin, dict.fromkeys(("delta", "upl", "im", "mm"), 0.0))
        row["delta"] += o.position_greeks(t)["delta"]
        row["upl"] += o.sign * o.size * (o.mark(t) - o.avg_price)
        row["mm"] += o.margin(t)
        row["im"] += o.margin(t) * 1.3
    return [{"totalDelta": f"{r['delta']:.4f}", "assetIM": f"{r['im']:.4f}",
             "totalUPL": f"{r['upl']:.4f}", "totalRPL": "-0.2790", "assetMM": f"{r['mm']:.4f}",
             "coin": coin, "sendTime": now_ms} for coin, r in sorted(rows.items())]


@dataclass(frozen=True)
class Mmp:
    """Market-maker protection of one base coin; `frozen` says whether it is frozen at t."""
    window_ms: int = 5000
    frozen_period_ms: int = 100_000
    qty_limit: str = "0.01"
    delta_limit: str = "0.01"
    vega_limit: str = "500000"
    frozen: Callable[[float], bool] = lambda t: False

    def row(self, coin: str, t: float, now_ms: int) -> dict[str, Any]:
        frozen = self.frozen(t)
        return {"baseCoin": coin, "mmpEnabled": True, "window": str(self.window_ms),
                "frozenPeriod": str(self.frozen_period_ms), "qtyLimit": self.qty_limit,
                "deltaLimit": self.delta_limit, "vegaLimit": self.vega_limit,
                "mmpFrozenUntil": str(now_ms + self.frozen_period_ms) if frozen else "0",
                "mmpFrozen": frozen}


def frozen_now_and_then(every: float = 240.0, lasting: float = 60.0,
                        offset: float = 90.0) -> Callable[[float], bool]:
    """Frozen for `lasting` seconds every `every` seconds, from `offset` on."""
    return lambda t: t >= offset and (t - offset) % every < lasting


def instruments(category: str, symbols: Sequence[str], now_ms: int) -> list[dict[str, Any]]:
    """Instrument rows with their deliveryTime ("0" for perpetuals), newest listing first."""
    return [{"symbol": s, "status": "Trading", "baseCoin": base_coin(s) if "-" in s else s[:3],
             "contractType": _contract_type(category, s), "deliveryTime": str(expiry_ms(s)),
             "launchTime": str(now_ms - 86_400_000), "deliveryFeeRate": "0.00015"}
            for s in sorted(set(symbols))]


def _contract_type(category: str, symbol: str) -> str:
    if category == "option":
        return ""
    dated = expiry_ms(symbol) != 0
    return ("Linear" if category == "linear" else "Inverse") + ("Futures" if dated else
                                                                 "Perpetual")
