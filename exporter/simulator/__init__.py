"""A simulated Bybit V5 over real HTTP, for --demo and the tests: wallet-balance, account info,
positions, asset overview, the Funding wallet, API key info, sub-account totals, the transaction
log, deposits and withdrawals, and the public market time and spot tickers, with signatures, the
recv_window rule, permissions and per-UID, per-endpoint rate limits checked as Bybit documents
them. Values drift with time."""

from exporter.simulator.accounts import (ALL_PERMISSIONS, FundingCoin, KeyInfo, Member,
                                         OverviewWallet, Permissions, SimAccount, without)
from exporter.simulator.demo import DemoAccount, demo_accounts
from exporter.simulator.ledger import Ledger, LedgerRow
from exporter.simulator.market import INDEX_PRICES, spot_tickers, usd_index_price
from exporter.simulator.positions import Position, PriceFn, drifting_to, swinging
from exporter.simulator.server import (ROUTES, UID_LIMIT_PER_SECOND, BybitSimulator, Route,
                                       SimHandler)
from exporter.simulator.transfers import Deposit, InternalDeposit, Withdrawal
from exporter.simulator.wallets import (Holding, WalletFn, calm_rate, classic_wallet,
                                        climbing_rate, unified_wallet)

__all__ = [
    "ALL_PERMISSIONS", "INDEX_PRICES", "ROUTES", "UID_LIMIT_PER_SECOND",
    "BybitSimulator", "DemoAccount", "Deposit", "FundingCoin", "Holding", "InternalDeposit",
    "KeyInfo", "Ledger", "LedgerRow", "Member", "OverviewWallet", "Permissions", "Position",
    "PriceFn", "Route", "SimAccount", "SimHandler", "WalletFn", "Withdrawal", "calm_rate",
    "classic_wallet", "climbing_rate", "demo_accounts", "drifting_to", "spot_tickers", "swinging",
    "unified_wallet", "usd_index_price", "without",
]
