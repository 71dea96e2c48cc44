"""What the simulator knows of each account: wallets, key, positions, other wallets, members."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.simulator.ledger import Ledger
from exporter.simulator.options import Mmp, OptionPosition
from exporter.simulator.orders import Order, held, position_orders
from exporter.simulator.positions import Position, margins
from exporter.simulator.transfers import Deposit, InternalDeposit, Withdrawal
from exporter.simulator.wallets import EMPTY_COIN, Holding, RateFn, WalletFn, num

Permissions = Mapping[str, tuple[str, ...]]
# coin fields Bybit leaves "" in portfolio margin
PORTFOLIO_BLANK = ("totalOrderIM", "totalPositionIM", "totalPositionMM")

# every permission group a key can have, as /v5/user/query-api lists them
ALL_PERMISSIONS: Permissions = {
    "ContractTrade": ("Order", "Position"), "Spot": ("SpotTrade",),
    "Wallet": ("AccountTransfer", "SubMemberTransfer"), "Options": ("OptionsTrade",),
    "Derivatives": ("DerivativesTrade",), "CopyTrading": ("CopyTrading",), "BlockTrade": (),
    "Exchange": ("ExchangeHistory",), "NFT": (), "Affiliate": (), "Earn": ("Earn",),
}


def without(*groups: str) -> Permissions:
    """ALL_PERMISSIONS with the named groups emptied: e.g. without("Wallet")."""
    return {name: () if name in groups else actions for name, actions in ALL_PERMISSIONS.items()}


@dataclass(frozen=True)
class KeyInfo:
    """The API key as /v5/user/query-api describes it."""
    read_only: bool = True
    permissions: Permissions = field(default_factory=lambda: dict(ALL_PERMISSIONS))
    ips: tuple[str, ...] = ("*",)  # ("*",): not bound to an IP; otherwise enforced (10010)
    expires_at_ms: int | None = None  # None: never expires; once past: 33004
    note: str = "monitoring"
    created_at_ms: int = 1_735_689_600_000

    def allows(self, groups: tuple[str, ...]) -> bool:
        """True when `groups` is empty (any key) or the key has one of them."""
        return not groups or any(self.permissions.get(g) for g in groups)


@dataclass(frozen=True)
class FundingCoin:
    """A coin of the Funding wallet (accountType FUND)."""
    coin: str
    balance: float
    bonus: float = 0.0


@dataclass(frozen=True)
class OverviewWallet:
    """A wallet of /v5/asset/asset-overview beside Funding and Unified (Earn, TradingBot...):
    coin quantities, directly or by category."""
    account_type: str
    coins: tuple[Holding, ...] = ()
    categories: Mapping[str, tuple[Holding, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Member:
    """An account of a master's /v5/asset/total-members-assets: USD per account type."""
    uid: str
    balances: Mapping[str, float]  # e.g. {"ACCOUNT_TYPE_UNIFIED": 1200.0}
    is_master: bool = False
    stat: int = 0


@dataclass
class SimAccount:
    api_key: str
    wallets: dict[str, WalletFn]
    secret: str | None = None
    rsa_public_pem: str | None = None
    revoked: bool = False
    latency: float = 0.0  # seconds before each private answer
    hidden_coins: set[str] = field(default_factory=set)
    # account info, key, positions, asset wallets, sub-accounts
    uid: str = ""  # "": derived from the key
    parent_uid: str | None = None  # set: a sub-account (isMaster false)
    margin_mode: str = "REGULAR_MARGIN"
    unified_margin_status: int | None = None  # None: 5 (UTA2.0) with a UNIFIED wallet, else 1
    key: KeyInfo = field(default_factory=KeyInfo)
    positions: list[Position] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    options: list[OptionPosition] = field(default_factory=list)
    mmp: dict[str, Mmp] | None = None  # base coin -> its protection; None: MMP not enabled
    borrow_rates: dict[str, RateFn] = field(default_factory=dict)  # coin -> hourly rate at t
    funding: list[FundingCoin] = field(default_factory=list)
    overview: list[OverviewWallet] = field(default_factory=list)
    regional_site: str | None = None  # e.g. "EU": asset-overview is not offered (HTTP 404)
    members: list[Member] = field(default_factory=list)  # for a master key
    # money flows: the transaction log, the Funding wallet's deposits and withdrawals
    ledger: Ledger = field(default_factory=Ledger)
    deposits: list[Deposit] = field(default_factory=list)
    internal_deposits: list[InternalDeposit] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)
    # called with the server time before each money-flow answer: books what is due by then
    advance: Callable[[SimAccount, int], None] | None = None
    # what the server saw
    requests: int = 0  # wallet-balance requests, before any check
    queries: list[str] = field(default_factory=list)  # authenticated wallet-balance queries
    calls: list[tuple[str, str]] = field(default_factory=list)  # authenticated (path, query)

    def __post_init__(self) -> None:
        if not self.uid:
            self.uid = str(100_000_000 + int(hashlib.sha256(self.api_key.encode()).hexdigest()[:8],
                                             16) % 900_000_000)

    def open_orders(self) -> list[Order]:
        """The orders placed, and those Bybit makes of each position's own TP/SL."""
        return self.orders + [o for p in self.positions for o in position_orders(p)]

    def entry(self, account_type: str, elapsed: float, coins: list[str] | None) -> dict[str, Any]:
        entry = dict(self.wallets[account_type](elapsed))
        if account_type == "UNIFIED":
            entry["coin"] = with_position_margin(entry["coin"], margins(self.positions))
            entry["coin"] = with_order_holdings(entry["coin"], *held(self.open_orders()))
            if self.margin_mode == "PORTFOLIO_MARGIN":  # margin is the portfolio's, not a coin's
                entry["coin"] = [{**c, **dict.fromkeys(PORTFOLIO_BLANK, "")} for c in entry["coin"]]
        entry["coin"] = [c for c in entry["coin"] if c["coin"] not in self.hidden_coins
                         and (not coins or c["coin"] in coins)]
        return entry


def with_position_margin(coins: list[dict[str, Any]], margin: dict[str, tuple[float, float]]
                         ) -> list[dict[str, Any]]:
    """Each coin's totalPositionIM and totalPositionMM from the open positions settled in it;
    a settle coin the wallet does not hold is listed for its margin (Bybit lists every coin
    with assets or liabilities, and a position's margin is one)."""
    listed = {c["coin"] for c in coins}
    extra = [{**EMPTY_COIN, "coin": coin} for coin in margin if coin not in listed]
    return [{**c, "totalPositionIM": num(margin.get(c["coin"], (0.0, 0.0))[0]),
             "totalPositionMM": num(margin.get(c["coin"], (0.0, 0.0))[1])}
            for c in coins + extra]


def with_order_holdings(coins: list[dict[str, Any]], margin: dict[str, float],
                        locked: dict[str, float]) -> list[dict[str, Any]]:
    """Each coin's totalOrderIM and locked from the open orders (exporter.simulator.orders)."""
    listed = {c["coin"] for c in coins}
    extra = [{**EMPTY_COIN, "coin": coin} for coin in {*margin, *locked} if coin not in listed]
    return [{**c, "totalOrderIM": num(margin.get(c["coin"], 0.0)),
             "locked": num(locked.get(c["coin"], 0.0))} for c in coins + extra]
