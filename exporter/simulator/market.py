"""The public spot tickers: one price list for the whole simulated market, moving with time."""

from __future__ import annotations

from typing import Any

from exporter.simulator.wallets import Holding

# USD index prices; None: a coin Bybit does not index (usdIndexPrice "": not collateral)
INDEX_PRICES: dict[str, float | None] = {
    "BTC": 64000.0, "ETH": 3100.0, "SOL": 145.0, "XRP": 0.6, "MNT": 0.8, "USDC": 1.0,
    "DOGE": 0.15, "POPCAT": None,
}
LAST_PRICES = {"POPCAT": 0.42}  # traded against USDT, though not indexed
EXTRA_PAIRS = (("BTC", "USDC"), ("ETH", "BTC"))  # pairs not quoted in USDT


def usd_index_price(coin: str, t: float) -> float | None:
    """The coin's USD index price at `t` seconds; 1.0 for USDT, None where Bybit has none."""
    if coin == "USDT":
        return 1.0
    base = INDEX_PRICES.get(coin)
    if base is None:
        return None
    swing = 0.0002 if coin == "USDC" else 0.03
    return Holding(coin, 0.0, base, swing=swing).price_at(t)


def spot_tickers(t: float) -> dict[str, Any]:
    pairs = [(coin, "USDT") for coin in INDEX_PRICES] + list(EXTRA_PAIRS)
    return {"category": "spot", "list": [_ticker(base, quote, t) for base, quote in pairs]}


def _ticker(base: str, quote: str, t: float) -> dict[str, Any]:
    index = usd_index_price(base, t)
    last = (index if index is not None else LAST_PRICES.get(base, 1.0)) / _quote_usd(quote, t)
    return {
        "symbol": base + quote, "bid1Price": _price(last * 0.9999), "bid1Size": "1.25",
        "ask1Price": _price(last * 1.0001), "ask1Size": "0.8", "lastPrice": _price(last),
        "prevPrice24h": _price(last * 0.98), "price24hPcnt": "0.0204",
        "highPrice24h": _price(last * 1.03), "lowPrice24h": _price(last * 0.96),
        "turnover24h": _price(last * 12345.6), "volume24h": "12345.6",
        "usdIndexPrice": _price(index) if index is not None else "",
    }


def _quote_usd(quote: str, t: float) -> float:
    return usd_index_price(quote, t) or 1.0


def _price(value: float) -> str:
    return f"{value:.8f}".rstrip("0").rstrip(".") if value < 1 else f"{value:.2f}"
