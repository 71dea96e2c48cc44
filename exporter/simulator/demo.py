"""The accounts of --demo: what the simulator knows of them, and what the exporter is given."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from exporter.config import DEFAULT_COLLECT, UNIFIED_ONLY
from exporter.simulator.accounts import (FundingCoin, KeyInfo, Member, OverviewWallet, SimAccount,
                                         without)
from exporter.simulator.activity import Plan, fund
from exporter.simulator.options import Mmp, OptionPosition, frozen_now_and_then
from exporter.simulator.orders import Order
from exporter.simulator.positions import Position, drifting_to, liquidated_now_and_then, swinging
from exporter.simulator.wallets import (Holding, calm_rate, classic_wallet, climbing_rate,
                                        unified_wallet)

CLASSIC_COLLECT = tuple(c for c in DEFAULT_COLLECT if c not in UNIFIED_ONLY)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class DemoAccount:
    name: str
    api_key: str
    secret: str
    account_types: tuple[str, ...]
    collect: tuple[str, ...] = DEFAULT_COLLECT  # the exporter's collectors for this account


Profile = tuple[str, SimAccount, tuple[str, ...]]  # name, the simulator's account, collectors
Builder = Callable[[str, str, int], Profile]  # (api key, secret, now in ms)


def demo_accounts() -> tuple[list[SimAccount], list[DemoAccount]]:
    """Five accounts with fresh random secrets: what the simulator knows, what the exporter gets."""
    now_ms = int(time.time() * 1000)
    sim_accounts, exporter_accounts = [], []
    builders: list[Builder] = [_unified, _classic, _leveraged, _isolated, _options_desk]
    for index, build in enumerate(builders):
        key, secret = f"DEMOKEY{index:011d}", secrets.token_hex(18)
        name, account, collect = build(key, secret, now_ms)
        sim_accounts.append(account)
        exporter_accounts.append(DemoAccount(name, key, secret, tuple(account.wallets), collect))
    return sim_accounts, exporter_accounts


def spiking_rate(base: float, peak: float, every: float = 600.0, lasting: float = 150.0,
                 offset: float = 60.0) -> Callable[[float], float]:
    """An hourly borrow rate at `base` that jumps to `peak` for `lasting` seconds every
    `every` seconds, from `offset` on."""
    return lambda t: peak if t >= offset and (t - offset) % every < lasting else base


def _unified(key: str, secret: str, now_ms: int) -> Profile:
    """A master account: Funding, Earn, bots and copy trading, two sub-accounts, ETHUSDT fills,
    funding, interest on borrowed SOL (whose hourly rate spikes now and then), a spot order
    selling ETH, deposits and withdrawals; its read-only key is bound to IPs (so it never
    expires)."""
    wallet = unified_wallet([
        Holding("BTC", 0.75, 64000), Holding("ETH", 6.0, 3100, swing=0.05),
        Holding("USDT", 25000, 1.0, swing=0.0), Holding("USDC", 5000, 1.0, swing=0.0),
        Holding("SOL", 0.0, 145, borrow=40.0, swing=0.08)], calm_rate)
    account = SimAccount(
        api_key=key, secret=secret, wallets={"UNIFIED": wallet}, uid="100000001",
        key=KeyInfo(ips=("127.0.0.1", "192.0.2.10")),
        funding=[FundingCoin("USDT", 1500), FundingCoin("BTC", 0.012), FundingCoin("ETH", 0.4),
                 FundingCoin("MNT", 5, bonus=10), FundingCoin("POPCAT", 1200)],
        overview=[
            OverviewWallet("Earn", categories={
                "Easy Earn": (Holding("USDT", 2000, 1.0, swing=0.0), Holding("BTC", 0.05, 64000)),
                "On-Chain Earn": (Holding("ETH", 1.2, 3100, swing=0.05),)}),
            OverviewWallet("TradingBot", coins=(Holding("USDT", 800, 1.0, swing=0.0),)),
            OverviewWallet("CopyTrading", coins=(Holding("USDT", 300, 1.0, swing=0.0),))],
        members=[
            Member("100000001", {"ACCOUNT_TYPE_FUND": 3500.0, "ACCOUNT_TYPE_UNIFIED": 90000.0},
                   is_master=True),
            Member("9007199254740993", {"ACCOUNT_TYPE_FUND": 1200.0,
                                        "ACCOUNT_TYPE_UNIFIED": 8400.0}),
            Member("100000002", {"ACCOUNT_TYPE_UNIFIED": 530.0})],
        orders=[Order("ETHUSDT", "Sell", 1.0, 3400.0, category="spot", settle_coin="USDT",
                      base_coin="ETH", created_ms=now_ms - 3_600_000)],
        # SOL costs about 5 % a year to borrow, and 105 % for 2.5 minutes every 10 minutes
        borrow_rates={"SOL": spiking_rate(0.0000057, 0.00012)})
    fund(account, Plan("ETHUSDT", 3100.0, "0.05", borrowed=("SOL", "40")), now_ms,
         {"USDT": "25000", "SOL": "-40"}, transfers=True)
    return "demo-unified", account, DEFAULT_COLLECT + ("members", "deposits")


def _classic(key: str, secret: str, now_ms: int) -> Profile:
    """Classic SPOT + CONTRACT; its key lacks the Wallet permission: 10005 on the asset calls."""
    wallets = {
        "SPOT": classic_wallet("SPOT", [Holding("BTC", 0.05, 64000), Holding("USDT", 1200, 1.0)]),
        "CONTRACT": classic_wallet("CONTRACT", [Holding("XRP", 350, 0.6),
                                                Holding("BTC", 0.01, 64000)])}
    key_info = KeyInfo(permissions=without("Wallet"), expires_at_ms=now_ms + 83 * DAY_MS)
    return "demo-classic", SimAccount(api_key=key, secret=secret, wallets=wallets,
                                      key=key_info), CLASSIC_COLLECT


def _leveraged(key: str, secret: str, now_ms: int) -> Profile:
    """MM rate climbing 0.55 -> 0.9, a cross-margin long at the top of the ADL queue (rank 5)
    that a partial stop loss covers half of, with a take profit and a limit buy open, BTCUSDT
    fills and funding; a key that may trade and expires in 10 days."""
    wallet = unified_wallet([Holding("USDT", 8000, 1.0, swing=0.0), Holding("BTC", 0.02, 64000)],
                            climbing_rate)
    position = Position("BTCUSDT", "Buy", 0.15, 62000, swinging(64000), leverage=10,
                        liq_price=57500, adl_rank=5)
    orders = [
        Order("BTCUSDT", "Sell", 0.075, 0.0, stop_order_type="PartialStopLoss",
              trigger_price=59000, reduce_only=True, close_on_trigger=True,
              created_ms=now_ms - 7_200_000),
        Order("BTCUSDT", "Sell", 0.15, 0.0, stop_order_type="TakeProfit", trigger_price=70000,
              reduce_only=True, close_on_trigger=True, created_ms=now_ms - 7_200_000),
        Order("BTCUSDT", "Buy", 0.05, 60000.0, created_ms=now_ms - 600_000)]
    account = SimAccount(api_key=key, secret=secret, wallets={"UNIFIED": wallet},
                         positions=[position], orders=orders,
                         key=KeyInfo(read_only=False, expires_at_ms=now_ms + 10 * DAY_MS))
    fund(account, Plan("BTCUSDT", 64000.0, "0.002"), now_ms, {"USDT": "8000"})
    return "demo-leveraged", account, DEFAULT_COLLECT


def _isolated(key: str, secret: str, now_ms: int) -> Profile:
    """Isolated margin: the account-wide margin fields are "", the risk is in the positions; the
    BTCUSDT long drifts toward its liquidation price (distance 0.30 -> under 0.05 in ~6.5 min)."""
    wallet = unified_wallet([Holding("USDT", 12000, 1.0, swing=0.0), Holding("BTC", 0.1, 64000)],
                            calm_rate, isolated=True)
    account = SimAccount(api_key=key, secret=secret, wallets={"UNIFIED": wallet},
                         margin_mode="ISOLATED_MARGIN", positions=isolated_positions(now_ms),
                         key=KeyInfo(expires_at_ms=now_ms + 47 * DAY_MS))
    return "demo-isolated", account, DEFAULT_COLLECT


def isolated_positions(now_ms: int) -> list[Position]:
    """A hedge-mode pair with their own stop loss and trailing stop; an ETHPERP long with no
    stop at all that Bybit liquidates for 30 s every 5 minutes; an inverse short that Bybit has
    made reduce-only, its leverage to be lowered by force in three hours."""
    btc = drifting_to(45000, "Buy")
    eth = swinging(3100)
    return [
        Position("BTCUSDT", "Buy", 0.5, 64000, btc, leverage=5, liq_price=45000, position_idx=1,
                 stop_loss=47000, take_profit=72000),
        Position("BTCUSDT", "Sell", 0.2, 65000, btc, leverage=10, liq_price=71500,
                 position_idx=2, trailing_stop=500, adl_rank=1),
        Position("ETHPERP", "Buy", 2.5, 3050, eth, settle_coin="USDC", leverage=10,
                 liq_price=2780, adl_rank=3, status=liquidated_now_and_then()),
        Position("BTCUSD", "Sell", 3000, 64500, btc, category="inverse", settle_coin="BTC",
                 leverage=3, liq_price=85000, stop_loss=80000,
                 forced_adjustment_ms=now_ms + 3 * 3_600_000),
        Position("ETHUSD", "", 0, 0, eth, category="inverse", settle_coin="ETH"),  # empty slot
    ]


def _options_desk(key: str, secret: str, now_ms: int) -> Profile:
    """Portfolio margin: an options book on BTC and ETH (USDC and USDT settled, bought and
    written) whose greeks move, hedged with a BTCUSDT short; MMP on BTC, which freezes quoting
    for a minute every four minutes. Positions have no liquidation price here: the account's
    margin rate is the measure."""
    wallet = unified_wallet([Holding("USDC", 150000, 1.0, swing=0.0), Holding("BTC", 1.2, 64000),
                             Holding("USDT", 40000, 1.0, swing=0.0)], calm_rate)
    account = SimAccount(api_key=key, secret=secret, wallets={"UNIFIED": wallet},
                         margin_mode="PORTFOLIO_MARGIN", options=option_book(),
                         positions=[Position("BTCUSDT", "Sell", 0.8, 64500, swinging(64000),
                                             adl_rank=2)],
                         mmp={"BTC": Mmp(frozen_period_ms=60_000,
                                         frozen=frozen_now_and_then(every=240, lasting=60))},
                         key=KeyInfo(expires_at_ms=now_ms + 60 * DAY_MS))
    return "demo-options", account, DEFAULT_COLLECT + ("mmp",)


def option_book() -> list[OptionPosition]:
    def delta(start: float, period: float) -> Callable[[float], float]:
        return lambda t: start + 0.15 * math.sin(2 * math.pi * t / period)

    def mark(price: float) -> Callable[[float], float]:
        return lambda t: price * (1 + 0.08 * math.sin(2 * math.pi * t / 420))

    return [
        OptionPosition("BTC-25DEC26-100000-C", "Buy", 5.0, 2400, mark(2550), delta(0.35, 300)),
        OptionPosition("BTC-25DEC26-60000-P", "Sell", 3.0, 1800, mark(1700), delta(-0.3, 360)),
        OptionPosition("BTC-26MAR27-120000-C-USDT", "Buy", 2.0, 3100, mark(3000),
                       delta(0.25, 480)),
        OptionPosition("ETH-25DEC26-4000-P-USDT", "Buy", 20.0, 150, mark(140), delta(-0.4, 240)),
    ]
