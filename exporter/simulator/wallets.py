"""Wallet-balance entries that move with time: unified (cross or isolated margin) and classic."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WalletFn = Callable[[float], dict[str, Any]]
RateFn = Callable[[float], float]

# account-wide fields that are "" in isolated margin (and their ...ByMp twins)
ISOLATED_BLANK = ("accountIMRate", "accountMMRate", "totalMarginBalance", "totalAvailableBalance",
                  "totalInitialMargin", "totalMaintenanceMargin", "accountIMRateByMp",
                  "accountMMRateByMp", "totalInitialMarginByMp", "totalMaintenanceMarginByMp")


@dataclass(frozen=True)
class Holding:
    coin: str
    quantity: float
    price: float
    borrow: float = 0.0
    swing: float = 0.03  # relative price swing over `period` seconds
    period: float = 600.0

    def price_at(self, t: float) -> float:
        phase = sum(map(ord, self.coin))
        return self.price * (1 + self.swing * math.sin(2 * math.pi * t / self.period + phase))


def num(value: float) -> str:
    return f"{value:.8f}"


def _unified_coin(h: Holding, t: float, upnl: float) -> dict[str, Any]:
    price = h.price_at(t)
    wallet = h.quantity - h.borrow
    equity = wallet + upnl
    interest = h.borrow * 0.0001 * (1 + t / 3600)
    return {
        "coin": h.coin, "equity": num(equity), "usdValue": num(equity * price),
        "walletBalance": num(wallet), "free": "", "locked": "0",
        "spotHedgingQty": "0", "borrowAmount": num(h.borrow), "spotBorrow": num(h.borrow),
        "availableToWithdraw": "", "accruedInterest": num(interest),
        "totalOrderIM": "0", "totalPositionIM": num(abs(upnl) * 2), "totalPositionMM": "0",
        "unrealisedPnl": num(upnl), "cumRealisedPnl": num(12.5 + t / 1000),
        "bonus": "0", "marginCollateral": True, "collateralSwitch": h.coin != "SOL",
        "availableToBorrow": "", "colRes": "1",
    }


# A UNIFIED coin entry with nothing in it but what a caller sets (a position's margin)
EMPTY_COIN: dict[str, Any] = {
    "equity": "0", "usdValue": "0", "walletBalance": "0", "free": "", "locked": "0",
    "spotHedgingQty": "0", "borrowAmount": "0", "spotBorrow": "0", "availableToWithdraw": "",
    "accruedInterest": "0", "totalOrderIM": "0", "totalPositionIM": "0", "totalPositionMM": "0",
    "unrealisedPnl": "0", "cumRealisedPnl": "0", "bonus": "0", "marginCollateral": True,
    "collateralSwitch": True, "availableToBorrow": "", "colRes": "1",
}


def unified_wallet(holdings: list[Holding], mm_rate: RateFn, isolated: bool = False) -> WalletFn:
    """A UNIFIED entry; `isolated`: isolated margin, where the account-wide margin fields are ""."""

    def wallet(t: float) -> dict[str, Any]:
        upnl = 150 * math.sin(t / 90)
        coins = [_unified_coin(h, t, upnl if h.coin == "USDT" else 0.0) for h in holdings]
        equity = sum(float(c["usdValue"]) for c in coins)
        entry = _unified_totals(equity, upnl, mm_rate(t))
        if isolated:
            entry.update({key: "" for key in ISOLATED_BLANK})
        return {**entry, "coin": coins}

    return wallet


def _unified_totals(equity: float, upnl: float, mm: float) -> dict[str, Any]:
    im = min(1.0, mm * 1.15)
    return {
        "accountType": "UNIFIED", "totalEquity": num(equity),
        "totalWalletBalance": num(equity - upnl), "totalMarginBalance": num(equity),
        "totalAvailableBalance": num(max(equity * (1 - im), 0.0)),
        "totalPerpUPL": num(upnl), "totalInitialMargin": num(equity * im),
        "totalInitialMarginByMp": num(equity * im * 1.002),
        "totalMaintenanceMargin": num(equity * mm),
        "totalMaintenanceMarginByMp": num(equity * mm * 1.002),
        "accountIMRate": f"{im:.4f}", "accountIMRateByMp": f"{min(1.0, im * 1.002):.4f}",
        "accountMMRate": f"{mm:.4f}", "accountMMRateByMp": f"{min(1.0, mm * 1.002):.4f}",
        "accountLTV": "0",
    }


def classic_wallet(account_type: str, holdings: list[Holding]) -> WalletFn:
    """Older SPOT and CONTRACT wallets: account-wide fields and many coin fields are ""."""

    def wallet(t: float) -> dict[str, Any]:
        coins = [_classic_coin(account_type, h, t) for h in holdings]
        empty = ("totalEquity", "accountIMRate", "totalMarginBalance", "totalInitialMargin",
                 "totalAvailableBalance", "accountMMRate", "totalPerpUPL", "totalWalletBalance",
                 "accountLTV", "totalMaintenanceMargin")
        return {"accountType": account_type, **{key: "" for key in empty}, "coin": coins}

    return wallet


def _classic_coin(account_type: str, h: Holding, t: float) -> dict[str, Any]:
    quantity = h.quantity * (1 + 0.01 * math.sin(t / 120))
    spot = account_type == "SPOT"
    locked = quantity * 0.1 if spot else 0.0
    return {
        "coin": h.coin, "equity": num(quantity), "usdValue": "",
        "walletBalance": num(quantity),
        "free": num(quantity - locked) if spot else "",
        "locked": num(locked) if spot else "",
        "spotHedgingQty": "0", "borrowAmount": "", "availableToWithdraw": num(quantity),
        "accruedInterest": "", "totalOrderIM": "0", "totalPositionIM": "0",
        "totalPositionMM": "", "unrealisedPnl": "0", "cumRealisedPnl": "0", "bonus": "",
        "marginCollateral": False, "collateralSwitch": False, "availableToBorrow": "",
    }


def calm_rate(t: float) -> float:
    return 0.03 + 0.01 * math.sin(t / 300)


def climbing_rate(t: float) -> float:
    """Starts near 0.55 and wanders up toward 0.9: enough to page someone."""
    return min(0.95, 0.9 - 0.35 * math.exp(-t / 240) + 0.02 * math.sin(t / 37))
