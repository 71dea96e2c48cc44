"""The answers of every private endpoint: `result` objects shaped as Bybit's V5 sends them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from exporter.simulator import orders, positions
from exporter.simulator.accounts import Member, OverviewWallet, SimAccount
from exporter.simulator.market import INDEX_PRICES, usd_index_price
from exporter.simulator.wallets import Holding, num

Result = dict[str, Any]
NEVER = "1970-01-01T00:00:00Z"  # query-api's expiredAt for a key that never expires
DENIED = "Permission denied, please check your API key permissions."
MEMBER_TYPES = {"ACCOUNT_TYPE_FUND": "FundingAccount", "ACCOUNT_TYPE_UNIFIED": "UnifiedTradingAccount"}


class ApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class NotOffered(Exception):
    """The endpoint does not exist on this (regional) site: HTTP 404, empty body."""


@dataclass(frozen=True)
class Call:
    account: SimAccount
    params: dict[str, str]
    t: float  # seconds since the simulator started
    now_ms: int  # the server's clock


def wallet_balance(call: Call) -> Result:
    account_type = call.params.get("accountType", "")
    coins = [c for c in call.params.get("coin", "").split(",") if c]
    if account_type not in call.account.wallets:
        raise ApiError(10001, f"accountType only support {','.join(call.account.wallets)}")
    return {"list": [call.account.entry(account_type, call.t, coins)]}


def account_info(call: Call) -> Result:
    account = call.account
    status = account.unified_margin_status or (5 if "UNIFIED" in account.wallets else 1)
    return {"unifiedMarginStatus": status, "marginMode": account.margin_mode,
            "isMasterTrader": False, "spotHedgingStatus": "OFF", "dcpStatus": "OFF",
            "timeWindow": 10, "smpGroup": 0, "updatedTime": "1716000000000"}


def position_list(call: Call) -> Result:
    try:
        chosen = positions.select(call.account.positions, call.params)
        rows, cursor = positions.page(chosen, call.params)
    except ValueError as exc:
        raise ApiError(10001, str(exc)) from None
    return {"category": call.params["category"], "nextPageCursor": cursor,
            "list": [p.row(call.t, call.now_ms, call.account.margin_mode) for p in rows]}


def open_orders(call: Call) -> Result:
    try:
        chosen = orders.select(call.account.open_orders(), call.params)
        rows, cursor = orders.page(chosen, call.params)
    except ValueError as exc:
        raise ApiError(10001, str(exc)) from None
    return {"category": call.params["category"], "nextPageCursor": cursor,
            "list": [o.row() for o in rows]}


DEFAULT_HOURLY_RATE = 0.00000147  # Bybit's example: about 1.3 % a year


def collateral_info(call: Call) -> Result:
    """Every coin Bybit lends (not only those held), with what borrowing it costs."""
    if "UNIFIED" not in call.account.wallets:
        raise ApiError(10001, "accountType only support UNIFIED")
    wallet = {c["coin"]: c for c in call.account.entry("UNIFIED", call.t, None)["coin"]}
    coins = sorted({"USDT", *INDEX_PRICES, *wallet})
    wanted = call.params.get("currency", "")
    return {"list": [_collateral(coin, wallet.get(coin), call) for coin in coins
                     if not wanted or coin == wanted]}


def _collateral(coin: str, held: dict[str, Any] | None, call: Call) -> Result:
    rate_at = call.account.borrow_rates.get(coin)
    rate = rate_at(call.t) if rate_at else DEFAULT_HOURLY_RATE
    borrowed = float(held["borrowAmount"] or 0) if held else 0.0
    others, limit = 10.0, 1000.0 if coin not in ("USDT", "USDC") else 1_000_000.0
    return {"currency": coin, "hourlyBorrowRate": f"{rate:.8f}",
            "maxBorrowingAmount": num(limit), "availableToBorrow": num(limit - borrowed - others),
            "freeBorrowingLimit": "0", "freeBorrowAmount": "0", "freeBorrowingAmount": "",
            "borrowAmount": num(borrowed), "otherBorrowAmount": num(others),
            "borrowable": True, "borrowUsageRate": f"{(borrowed + others) / limit:.4f}",
            "marginCollateral": coin != "POPCAT", "collateralSwitch": True,
            "collateralRatio": "0.95"}


def asset_overview(call: Call) -> Result:
    if call.account.regional_site:
        raise NotOffered(call.account.regional_site)
    if call.params.get("valuationCurrency", "USD") != "USD":
        raise ApiError(10001, "valuationCurrency: the simulator values in USD only")
    member = _member(call)
    wallets = _member_wallets(member, call) if member else _own_wallets(call)
    wanted = call.params.get("accountType")
    wallets = [w for w in wallets if not wanted or w["accountType"] == wanted]
    return {"totalEquity": num(sum(float(w["totalEquity"]) for w in wallets)), "list": wallets}


def _own_wallets(call: Call) -> list[Result]:
    account, t = call.account, call.t
    wallets = []
    if "UNIFIED" in account.wallets:
        entry = account.entry("UNIFIED", t, None)
        coins = [{"coin": c["coin"], "equity": c["equity"]} for c in entry["coin"]]
        wallets.append(_wallet("UnifiedTradingAccount", float(entry["totalEquity"]), call, coins))
    if account.funding:
        usd = sum(f.balance * (usd_index_price(f.coin, t) or 0.0) for f in account.funding)
        coins = [{"coin": f.coin, "equity": num(f.balance)} for f in account.funding]
        wallets.append(_wallet("FundingAccount", usd, call, coins))
    earn = account.key.allows(("Earn",))
    wallets += [_other_wallet(w, call) for w in account.overview
                if earn or w.account_type != "Earn"]
    return wallets


def _other_wallet(wallet: OverviewWallet, call: Call) -> Result:
    coins, usd = _coin_detail(wallet.coins, call.t)
    categories = []
    for name, holdings in wallet.categories.items():
        detail, equity = _coin_detail(holdings, call.t)
        categories.append({"category": name, "equity": num(equity), "coinDetail": detail})
        usd += equity
    result = _wallet(wallet.account_type, usd, call, coins)
    if categories:
        result["categories"] = categories
    return result


def _coin_detail(holdings: tuple[Holding, ...], t: float) -> tuple[list[Result], float]:
    quantities = [h.quantity * (1 + 0.002 * math.sin(t / 200)) for h in holdings]
    usd = sum(q * h.price_at(t) for q, h in zip(quantities, holdings))
    return [{"coin": h.coin, "equity": num(q)} for q, h in zip(quantities, holdings)], usd


def _wallet(account_type: str, usd: float, call: Call, coins: list[Result]) -> Result:
    return {"accountType": account_type, "totalEquity": num(usd), "valuationCurrency": "USD",
            "snapshotTime": str(call.now_ms - call.now_ms % 1000), "coinDetail": coins}


def _member_wallets(member: Member, call: Call) -> list[Result]:
    """A sub-account's wallets as its master sees them: USD balances, counted as USDT."""
    return [_wallet(MEMBER_TYPES.get(kind, kind), usd, call, [{"coin": "USDT", "equity": num(usd)}])
            for kind, usd in _member_balances(member, call.t).items()]


def _member(call: Call) -> Member | None:
    """The sub-account a master key asks about with memberId (None: the key's own account)."""
    member_id = call.params.get("memberId", "")
    if not member_id or member_id == call.account.uid:
        return None
    for member in call.account.members:
        if member.uid == member_id and not member.is_master:
            return member
    raise ApiError(10001, f"memberId {member_id} is not a sub-account of this master")


def funding_balance(call: Call) -> Result:
    account_type = call.params.get("accountType", "")
    if account_type != "FUND":
        raise ApiError(10001, "accountType: the simulator serves FUND only")
    wanted = [c for c in call.params.get("coin", "").split(",") if c]
    member = _member(call)
    if member:
        usd = _member_balances(member, call.t).get("ACCOUNT_TYPE_FUND", 0.0)
        rows = [_funding_row("USDT", usd, 0.0)]
    else:
        rows = [_funding_row(f.coin, f.balance, f.bonus) for f in call.account.funding]
    return {"accountType": "FUND", "memberId": member.uid if member else call.account.uid,
            "balance": [r for r in rows if not wanted or r["coin"] in wanted]}


def _funding_row(coin: str, balance: float, bonus: float) -> Result:
    return {"coin": coin, "walletBalance": num(balance), "transferBalance": num(balance - bonus),
            "bonus": num(bonus)}


def api_key_info(call: Call) -> Result:
    account, key = call.account, call.account.key
    if key.expires_at_ms is None:
        expired_at, deadline = NEVER, -2
    else:
        days_left = -(-(key.expires_at_ms - call.now_ms) // 86_400_000)  # rounded up
        expired_at, deadline = _iso(key.expires_at_ms), days_left
    return {
        "id": str(int(account.uid) % 10_000_000), "note": key.note, "apiKey": account.api_key,
        "readOnly": 1 if key.read_only else 0, "secret": "",
        "permissions": {group: list(actions) for group, actions in key.permissions.items()},
        "ips": list(key.ips), "type": 1, "deadlineDay": deadline, "expiredAt": expired_at,
        "createdAt": _iso(key.created_at_ms), "unified": 0, "uta": int("UNIFIED" in account.wallets),
        "userID": int(account.uid), "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
        "affiliateID": 0, "rsaPublicKey": account.rsa_public_pem or "",
        "isMaster": account.parent_uid is None, "parentUid": account.parent_uid or "0",
        "kycLevel": "LEVEL_2", "kycRegion": "",
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def members_assets(call: Call) -> Result:
    if call.account.parent_uid is not None:
        raise ApiError(10005, DENIED)
    quote = call.params.get("coin", "BTC")
    price = usd_index_price(quote, call.t)
    if price is None:
        raise ApiError(10001, f"coin {quote} is not supported")
    rows = [_member_row(m, call.t, price) for m in call.account.members]
    total = sum(float(r["origb"]) for r in rows)
    return {"total": _exact(total), "quoteTotal": num(total / price), "stat": 0, "list": rows}


def _member_row(member: Member, t: float, price: float) -> Result:
    balances = _member_balances(member, t)
    items = [{"type": kind, "origb": _exact(usd), "quoteb": num(usd / price), "stat": member.stat}
             for kind, usd in balances.items()]
    usd = sum(balances.values())
    return {"uid": member.uid, "isM": member.is_master, "stat": member.stat,
            "origb": _exact(usd), "quoteb": num(usd / price), "items": items}


def _member_balances(member: Member, t: float) -> dict[str, float]:
    phase = int(member.uid[-3:])
    return {kind: usd * (1 + 0.01 * math.sin(t / 180 + phase)) for kind, usd in member.balances.items()}


def _exact(value: float) -> str:
    """Every digit of the float, as Bybit's USD figures come (40+ significant digits)."""
    return format(Decimal(value), "f")
