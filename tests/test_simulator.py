"""The simulated Bybit on its own, over real HTTP: every endpoint's documented shape, the auth
rules, per-endpoint per-UID limits, pagination, permissions, money flows (the transaction log,
deposits and withdrawals: time windows, URL-encoded cursors, late rows), and the --demo accounts."""

import json
import math
import time
from decimal import Decimal
from urllib.parse import quote, unquote

import pytest
import requests

from exporter.bybit import signing
from exporter.simulator import (ROUTES, Deposit, FundingCoin, Holding, InternalDeposit, KeyInfo,
                                Ledger, LedgerRow, Member, OverviewWallet, Position, SimAccount,
                                Withdrawal, calm_rate, demo_accounts, swinging, unified_wallet,
                                without)
from exporter.simulator.activity import Plan, fund
from exporter.simulator.endpoints import Call, asset_overview
from exporter.simulator.options import (NO_MMP, Mmp, OptionPosition, expiry_ms,
                                        frozen_now_and_then)
from exporter.simulator.orders import Order
from tests.conftest import REPO, unified_account

WALLET = "/v5/account/wallet-balance"
INFO = "/v5/account/info"
POSITIONS = "/v5/position/list"
OVERVIEW = "/v5/asset/asset-overview"
FUNDING = "/v5/asset/transfer/query-account-coins-balance"
API_KEY = "/v5/user/query-api"
MEMBERS = "/v5/asset/total-members-assets"
LOG = "/v5/account/transaction-log"
DEPOSITS = "/v5/asset/deposit/query-record"
INTERNAL = "/v5/asset/deposit/query-internal-record"
WITHDRAWALS = "/v5/asset/withdraw/query-record"
ORDERS = "/v5/order/realtime"
COLLATERAL = "/v5/account/collateral-info"
# a query each private endpoint answers with retCode 0
QUERIES = {WALLET: "accountType=UNIFIED", INFO: "", POSITIONS: "category=linear&settleCoin=USDT",
           ORDERS: "category=linear&settleCoin=USDT", COLLATERAL: "",
           OVERVIEW: "", FUNDING: "accountType=FUND", API_KEY: "", MEMBERS: "coin=BTC",
           LOG: "accountType=UNIFIED", DEPOSITS: "", INTERNAL: "", WITHDRAWALS: "withdrawType=2"}
LIMITS = {WALLET: 50, INFO: 50, POSITIONS: 50, ORDERS: 50, COLLATERAL: 50, OVERVIEW: 50,
          FUNDING: 5, API_KEY: 10, MEMBERS: 50, LOG: 25, DEPOSITS: 100, INTERNAL: 100,
          WITHDRAWALS: 300}
GREEKS = "/v5/asset/coin-greeks"
OPTION_ASSETS = "/v5/account/option-asset-info"
MMP = "/v5/account/mmp-state"
QUERIES.update({GREEKS: "", OPTION_ASSETS: "", MMP: "baseCoin=BTC"})
LIMITS.update({GREEKS: 50, OPTION_ASSETS: 50, MMP: 50})
UNIFIED_ONLY = (LOG, COLLATERAL)  # 10001 for an account without a Unified wallet
PER_MINUTE = (DEPOSITS, INTERNAL, WITHDRAWALS)  # Bybit gives these limits per minute
WALLET_ONLY = (OVERVIEW, FUNDING, MEMBERS, DEPOSITS, INTERNAL, WITHDRAWALS)  # need "Wallet"
LOG_FIELDS = {"id", "symbol", "category", "side", "funding", "orderLinkId", "orderId", "fee",
              "change", "cashFlow", "transactionTime", "type", "feeRate", "bonusChange", "size",
              "qty", "cashBalance", "currency", "tradePrice", "tradeId", "extraFees",
              "transSubType"}
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
ENVELOPE = {"retCode", "retMsg", "result", "retExtInfo", "time"}
POSITION_NUMBERS = ("size", "avgPrice", "positionValue", "leverage", "markPrice", "liqPrice",
                    "positionIM", "positionMM", "positionIMByMp", "positionMMByMp",
                    "unrealisedPnl", "curRealisedPnl", "cumRealisedPnl", "breakEvenPrice",
                    "riskLimitValue", "createdTime", "updatedTime")


def signed_get(sim, path, query="", key="K1", secret="S1", timestamp=None, recv_window=5000,
               signed_query=None, session=requests):
    timestamp = sim.now_ms() if timestamp is None else timestamp
    payload = signing.string_to_sign(timestamp, key, recv_window,
                                     query if signed_query is None else signed_query)
    headers = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": str(timestamp),
               "X-BAPI-RECV-WINDOW": str(recv_window), "X-BAPI-SIGN-TYPE": "2",
               "X-BAPI-SIGN": signing.hmac_signer(secret)(payload)}
    return session.get(sim.url + path + (f"?{query}" if query else ""), headers=headers, timeout=5)


def ok(response):
    body = response.json()
    assert response.status_code == 200 and set(body) == ENVELOPE, body
    assert body["retCode"] == 0 and body["retMsg"] == "OK", body
    return body["result"]


def is_number_text(value):
    """A Bybit number: a string, "" where it does not apply, else a finite decimal."""
    return isinstance(value, str) and (value == "" or math.isfinite(float(value)))


def rich_account(api_key="K1", secret="S1", **changes):
    """An account with something on every endpoint."""
    fields = dict(
        uid="100000001", funding=[FundingCoin("USDT", 100), FundingCoin("MNT", 5, bonus=10),
                 FundingCoin("POPCAT", 50)],
        overview=[OverviewWallet("Earn", categories={"Easy Earn": (Holding("BTC", 0.1, 64000),)}),
                  OverviewWallet("TradingBot", coins=(Holding("USDT", 80, 1.0, swing=0.0),))],
        positions=[Position("BTCUSDT", "Buy", 0.1, 60000, swinging(64000), liq_price=50000),
                   Position("BTCUSD", "Sell", 100, 65000, swinging(64000), category="inverse",
                            settle_coin="BTC", liq_price=90000),
                   Position("ETHUSD", "", 0, 0, swinging(3000), category="inverse",
                            settle_coin="ETH")],
        orders=[Order("BTCUSDT", "Sell", 0.1, 0.0, stop_order_type="StopLoss",
                      trigger_price=52000, reduce_only=True, close_on_trigger=True),
                Order("ETHUSDT", "Sell", 0.5, 4000.0, category="spot", base_coin="ETH")],
        borrow_rates={"BTC": lambda t: 0.0000123},
        options=[OptionPosition("BTC-27DEC26-100000-C", "Buy", 0.5, 2500, lambda t: 2600.0,
                                lambda t: 0.4),
                 OptionPosition("SOL-16JUL25-155-P-USDT", "Sell", 2, 0.28, lambda t: 0.25,
                                lambda t: -0.3)],
        mmp={"BTC": Mmp()},
        members=[Member("100000001", {"ACCOUNT_TYPE_FUND": 10.5}, is_master=True),
                 Member("9007199254740993", {"ACCOUNT_TYPE_UNIFIED": 12345.678})],
        **money_flows(int(time.time() * 1000)))
    fields.update(changes)
    holdings = [Holding("BTC", 1.5, 60000), Holding("USDT", 1000, 1.0, swing=0.0)]
    return SimAccount(api_key=api_key, secret=secret,
                      wallets={"UNIFIED": unified_wallet(holdings, calm_rate)}, **fields)


def money_flows(now):
    """A few rows of each kind, all within the default windows."""
    ledger = Ledger({"USDT": "5000"})
    ledger.transfer_in(now - 20 * HOUR_MS, "USDT", "1000")
    ledger.trade(now - 3 * HOUR_MS, "BTCUSDT", "Buy", "0.01", "64000")
    ledger.funding(now - 2 * HOUR_MS, "BTCUSDT", "Buy", "0.01", "64100", "0.0001")
    ledger.interest(now - HOUR_MS, "USDT", "0.0125")
    ledger.trade(now - 1000, "BTCUSDT", "Sell", "0.01", "64500", cash_flow="5")
    return dict(ledger=ledger,
                deposits=[Deposit("USDT", "1000", now - 2 * DAY_MS),
                          Deposit("BTC", "0.01", now - DAY_MS, status=2, deposit_fee="0.0001")],
                internal_deposits=[InternalDeposit("USDT", "25", now - HOUR_MS)],
                withdrawals=[Withdrawal("USDT", "300", now - 3 * DAY_MS, withdraw_fee="1"),
                             Withdrawal("USDT", "50", now - 2 * HOUR_MS, off_chain=True)])


# ---- shapes --------------------------------------------------------------------------------

def check_wallet(result):
    entry = result["list"][0]
    for name in ("totalEquity", "totalWalletBalance", "totalMarginBalance", "accountMMRate",
                 "accountIMRate", "totalInitialMargin", "totalMaintenanceMargin"):
        assert is_number_text(entry[name]) and entry[name] != "", name
    assert all(is_number_text(c["equity"]) and isinstance(c["marginCollateral"], bool)
               for c in entry["coin"])


def check_info(result):
    assert isinstance(result["unifiedMarginStatus"], int)
    assert result["marginMode"] == "REGULAR_MARGIN"
    assert result["spotHedgingStatus"] in ("ON", "OFF") and isinstance(result["updatedTime"], str)


def check_positions(result):
    assert result["category"] == "linear" and result["nextPageCursor"] == ""
    [row] = result["list"]
    assert isinstance(row["positionIdx"], int) and row["side"] == "Buy"
    assert all(is_number_text(row[name]) for name in POSITION_NUMBERS)
    assert row["positionStatus"] == "Normal" and row["liqPrice"] == "50000.00"


DOCS = REPO / "tests" / "fixtures" / "answers"


def documented_keys(name):
    """The keys of the first row of the docs' example answer (tests/fixtures/answers)."""
    return set(json.loads((DOCS / name).read_text())["result"]["list"][0])


def check_orders(result):
    assert result["category"] == "linear" and result["nextPageCursor"] == ""
    [row] = result["list"]
    assert documented_keys("order_realtime_docs.json") - set(row) == {"cumFeeDetail"}
    assert row["stopOrderType"] == "StopLoss" and row["orderStatus"] == "Untriggered"
    assert row["reduceOnly"] is True and row["closeOnTrigger"] is True
    assert row["leavesQty"] == row["qty"] == "0.100" and row["triggerPrice"] == "52000.00"
    assert isinstance(row["positionIdx"], int)


def check_collateral(result):
    coins = {row["currency"]: row for row in result["list"]}
    assert {"BTC", "USDT", "ETH", "SOL", "DOGE"} <= set(coins)  # every coin, not only those held
    for row in coins.values():
        assert set(row) == documented_keys("collateral_info_docs.json")
        assert all(is_number_text(row[key]) for key in (
            "hourlyBorrowRate", "maxBorrowingAmount", "availableToBorrow", "borrowUsageRate"))
    assert coins["BTC"]["hourlyBorrowRate"] == "0.00001230"


def check_coin_greeks(result):
    coins = {row["baseCoin"]: row for row in result["list"]}
    assert set(coins) == {"BTC", "SOL"}
    assert set(coins["BTC"]) == documented_keys("coin_greeks_docs.json")
    assert float(coins["BTC"]["totalDelta"]) == pytest.approx(0.5 * 0.4)
    assert float(coins["SOL"]["totalDelta"]) == pytest.approx(-2 * -0.3)  # a written put


def documented_results(name):
    return json.loads((DOCS / name).read_text())["result"]["result"]


def check_option_assets(result):
    rows = {row["coin"]: row for row in result["result"]}
    assert set(rows) == {"USDC", "USDT"}  # BTC-27DEC26-100000-C settles in USDC
    assert set(rows["USDC"]) == set(documented_results("option_asset_info_docs.json")[0])
    assert isinstance(rows["USDC"]["sendTime"], int)
    assert float(rows["USDC"]["assetMM"]) == 0.0 and float(rows["USDT"]["assetMM"]) > 0


def check_mmp(result):
    [row] = result["result"]
    assert set(row) == set(documented_results("mmp_state_docs.json")[0])
    assert row["baseCoin"] == "BTC" and row["mmpEnabled"] is True and row["mmpFrozen"] is False


def check_overview(result):
    assert is_number_text(result["totalEquity"])
    wallets = {w["accountType"]: w for w in result["list"]}
    assert set(wallets) == {"UnifiedTradingAccount", "FundingAccount", "Earn", "TradingBot"}
    for wallet in wallets.values():
        assert wallet["valuationCurrency"] == "USD" and wallet["snapshotTime"].isdigit()
        assert is_number_text(wallet["totalEquity"])
    [earn] = wallets["Earn"]["categories"]
    assert earn["category"] == "Easy Earn" and earn["coinDetail"][0]["coin"] == "BTC"
    assert math.isclose(float(earn["coinDetail"][0]["equity"]), 0.1, rel_tol=0.01)  # in BTC
    assert {"coin": "POPCAT", "equity": "50.00000000"} in wallets["FundingAccount"]["coinDetail"]
    assert math.isclose(float(result["totalEquity"]),
                        sum(float(w["totalEquity"]) for w in wallets.values()), rel_tol=1e-6)


def check_funding(result):
    assert result["accountType"] == "FUND" and result["memberId"] == "100000001"
    balances = {b["coin"]: b for b in result["balance"]}
    assert set(balances) == {"USDT", "MNT", "POPCAT"}
    assert all(is_number_text(v) for b in balances.values() for k, v in b.items() if k != "coin")
    assert float(balances["MNT"]["transferBalance"]) < 0  # a bonus bigger than the balance


def check_api_key(result):
    assert result["apiKey"] == "K1" and result["readOnly"] == 1
    assert result["expiredAt"] == "1970-01-01T00:00:00Z" and result["deadlineDay"] == -2
    assert result["ips"] == ["*"] and result["isMaster"] is True
    assert all(isinstance(v, list) for v in result["permissions"].values())
    assert result["permissions"]["Wallet"]


def check_members(result):
    assert result["stat"] == 0 and is_number_text(result["total"])
    assert [m["uid"] for m in result["list"]] == ["100000001", "9007199254740993"]
    sub = result["list"][1]
    assert sub["isM"] is False and sub["stat"] == 0
    # every digit of the float, far more than its shortest form ("40+ digits" for most values;
    # fewer when the float's last bits are zeros, 1 value in 32 or so)
    assert sub["origb"] == format(Decimal(float(sub["origb"])), "f")
    assert len(sub["origb"].replace(".", "").lstrip("0")) > 25
    assert sub["items"][0]["type"] == "ACCOUNT_TYPE_UNIFIED"
    assert all(is_number_text(i["origb"]) and is_number_text(i["quoteb"]) for i in sub["items"])


def check_log(result):
    assert result["nextPageCursor"] == ""
    rows = result["list"]
    assert [r["type"] for r in rows] == ["TRADE", "INTEREST", "SETTLEMENT", "TRADE",
                                         "TRANSFER_IN"]  # newest first
    for row in rows:
        assert set(row) == LOG_FIELDS and all(isinstance(v, str) for v in row.values()), row
        flows = [Decimal(row[name] or "0") for name in ("cashFlow", "funding", "fee")]
        assert Decimal(row["change"]) == flows[0] + flows[1] - flows[2], row
    closing, interest, settlement = rows[0], rows[1], rows[2]
    assert closing["funding"] == "" and closing["fee"] == "0.35475000"  # 0.01 x 64500 x 0.00055
    assert closing["cashFlow"] == "5" and closing["category"] == "linear"
    assert interest["funding"] == "0" and interest["category"] == "" and interest["side"] == "None"
    assert interest["cashFlow"] == "-0.0125" and interest["id"].startswith("L-I-I-")
    assert settlement["funding"] == "-0.06410000" and settlement["feeRate"] == "0.0001"
    assert rows[-1]["cashFlow"] == "1000" and rows[-1]["cashBalance"] == "6000.00000000"
    assert closing["cashBalance"] == "6004.21665000"  # 6000 - fees - funding - interest + 5


def check_deposits(result):
    assert result["nextPageCursor"] == ""
    pending, done = result["rows"]
    assert (done["coin"], done["amount"], done["status"], done["depositFee"]) == (
        "USDT", "1000", 3, "")
    assert done["successAt"].isdigit() and done["id"] and done["txID"]
    assert (pending["status"], pending["depositFee"], pending["successAt"]) == (2, "0.0001", "")


def check_internal(result):
    [row] = result["rows"]
    assert (row["coin"], row["amount"], row["status"], row["type"]) == ("USDT", "25", 2, 1)
    assert row["createdTime"].isdigit() and result["nextPageCursor"] == ""


def check_withdrawals(result):
    off_chain, on_chain = result["rows"]
    assert (on_chain["withdrawType"], on_chain["status"], on_chain["withdrawFee"]) == (
        0, "success", "1")
    assert off_chain["withdrawType"] == 1 and off_chain["amount"] == "50"
    assert on_chain["createTime"].isdigit() and on_chain["withdrawId"]


CHECKS = {WALLET: check_wallet, INFO: check_info, POSITIONS: check_positions,
          ORDERS: check_orders, COLLATERAL: check_collateral, GREEKS: check_coin_greeks,
          OPTION_ASSETS: check_option_assets, MMP: check_mmp,
          OVERVIEW: check_overview, FUNDING: check_funding, API_KEY: check_api_key,
          MEMBERS: check_members, LOG: check_log, DEPOSITS: check_deposits,
          INTERNAL: check_internal, WITHDRAWALS: check_withdrawals}


def test_every_private_endpoint_is_covered():
    assert set(ROUTES) == set(QUERIES) == set(CHECKS) == set(LIMITS)
    assert {path: route.limit for path, route in ROUTES.items()} == LIMITS
    assert [path for path, route in ROUTES.items() if route.window == 60.0] == list(PER_MINUTE)
    assert all(route.window == 1.0 for path, route in ROUTES.items() if path not in PER_MINUTE)


@pytest.mark.parametrize("path", list(QUERIES))
def test_every_endpoint_answers_the_documented_shape(simulator, path):
    account = rich_account()
    sim = simulator([account])
    response = signed_get(sim, path, QUERIES[path])
    CHECKS[path](ok(response))
    assert response.headers["X-Bapi-Limit"] == str(LIMITS[path])
    assert account.calls == [(path, QUERIES[path])]
    assert account.queries == ([QUERIES[path]] if path == WALLET else [])
    assert json.loads(response.text)["result"] == ok(response)


def test_public_market_endpoints(simulator):
    sim = simulator([])
    tickers = ok(requests.get(sim.url + "/v5/market/tickers?category=spot", timeout=5))
    prices = {t["symbol"]: t["usdIndexPrice"] for t in tickers["list"]}
    assert tickers["category"] == "spot" and prices["POPCAT" + "USDT"] == ""
    assert 50_000 < float(prices["BTCUSDT"]) < 80_000 and prices["BTCUSDC"] == prices["BTCUSDT"]
    time_result = ok(requests.get(sim.url + "/v5/market/time", timeout=5))
    assert time_result["timeSecond"].isdigit()
    wrong = requests.get(sim.url + "/v5/market/tickers?category=linear", timeout=5).json()
    assert wrong["retCode"] == 10001


def test_a_plain_account_keeps_working_everywhere(simulator):
    """SimAccount(api_key, secret, wallets) as the older tests build it: sane defaults."""
    sim = simulator([unified_account("K1", "S1")])
    assert ok(signed_get(sim, INFO))["marginMode"] == "REGULAR_MARGIN"
    assert ok(signed_get(sim, POSITIONS, QUERIES[POSITIONS]))["list"] == []
    assert ok(signed_get(sim, API_KEY))["deadlineDay"] == -2
    overview = ok(signed_get(sim, OVERVIEW))
    assert [w["accountType"] for w in overview["list"]] == ["UnifiedTradingAccount"]
    assert ok(signed_get(sim, FUNDING, "accountType=FUND"))["balance"] == []
    assert ok(signed_get(sim, MEMBERS))["list"] == []


# ---- auth ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", list(QUERIES))
def test_bad_signature_and_old_timestamp_are_refused_everywhere(simulator, path):
    sim = simulator([rich_account()])
    query = QUERIES[path]
    assert signed_get(sim, path, query, secret="wrong").json()["retCode"] == 10004
    signed_other = query + "&x=1" if query else "x=1"
    assert signed_get(sim, path, query, signed_query=signed_other).json()["retCode"] == 10004
    now = sim.now_ms()
    assert signed_get(sim, path, query, timestamp=now - 6000).json()["retCode"] == 10002
    assert signed_get(sim, path, query, timestamp=now + 1500).json()["retCode"] == 10002
    assert signed_get(sim, path, query, key="NOPE").json()["retCode"] == 10003
    assert sim.accounts["K1"].calls == []


def test_the_signature_is_over_the_exact_bytes_sent(simulator):
    sim = simulator([rich_account()])
    query = "accountType=UNIFIED&coin=USDT,USDC"
    assert ok(signed_get(sim, WALLET, query))
    encoded = query.replace(",", "%2C")
    assert signed_get(sim, WALLET, encoded, signed_query=query).json()["retCode"] == 10004


def test_the_server_clock_offset_applies(simulator):
    sim = simulator([rich_account()])
    sim.clock_offset_ms = 30_000
    late = sim.now_ms() - 30_000
    body = signed_get(sim, INFO, timestamp=late).json()
    assert body["retCode"] == 10002 and "server_timestamp[" in body["retMsg"]
    assert signed_get(sim, INFO).json()["retCode"] == 0


def test_revoked_expired_and_ip_bound_keys(simulator):
    now = int(time.time() * 1000)
    sim = simulator([rich_account("REVOKED", "S", revoked=True),
                     rich_account("EXPIRED", "S", key=KeyInfo(expires_at_ms=now - 1)),
                     rich_account("ELSEWHERE", "S", key=KeyInfo(ips=("203.0.113.9",))),
                     rich_account("HERE", "S", key=KeyInfo(ips=("203.0.113.9", "127.0.0.1")))])
    for key, code in (("REVOKED", 10003), ("EXPIRED", 33004), ("ELSEWHERE", 10010), ("HERE", 0)):
        for path, query in QUERIES.items():
            assert signed_get(sim, path, query, key=key, secret="S").json()["retCode"] == code


# ---- limits ----------------------------------------------------------------------------------

def burst(sim, path, count, key="K1"):
    session = requests.Session()
    started = time.monotonic()
    responses = [signed_get(sim, path, QUERIES[path], key=key, session=session)
                 for _ in range(count)]
    assert time.monotonic() - started < 0.9, "too slow to test a 1 s window"
    return responses


@pytest.mark.parametrize("path", [p for p in QUERIES if p not in PER_MINUTE])
def test_each_endpoint_has_its_own_per_uid_limit(simulator, path):
    sim = simulator([rich_account(), rich_account("OTHER", "S1", uid="100000009")])
    sim.clock_offset_ms = 40_000
    limit = LIMITS[path]
    responses = burst(sim, path, limit + 1)
    codes = [r.json()["retCode"] for r in responses]
    assert codes == [0] * limit + [10006]
    refused = responses[-1]
    assert refused.headers["X-Bapi-Limit"] == str(limit)
    assert refused.headers["X-Bapi-Limit-Status"] == "0"
    assert [r.headers["X-Bapi-Limit-Status"] for r in responses[:2]] == [str(limit - 1),
                                                                         str(limit - 2)]
    reset = int(refused.headers["X-Bapi-Limit-Reset-Timestamp"])
    assert sim.now_ms() - 50 <= reset <= sim.now_ms() + 1000  # in the server's (offset) clock
    others = [p for p in QUERIES if p != path]
    assert all(ok(signed_get(sim, p, QUERIES[p])) is not None for p in others)
    assert ok(signed_get(sim, path, QUERIES[path], key="OTHER"))  # another UID: its own budget
    time.sleep(1.0)
    assert ok(signed_get(sim, path, QUERIES[path]))  # the window rolled on


def test_keys_of_one_uid_share_its_limit(simulator):
    sim = simulator([rich_account(), rich_account("SECOND", "S1")])  # both uid 100000001
    assert [r.json()["retCode"] for r in burst(sim, FUNDING, 3)] == [0, 0, 0]
    codes = [r.json()["retCode"] for r in burst(sim, FUNDING, 3, key="SECOND")]
    assert codes == [0, 0, 10006]


# ---- positions -------------------------------------------------------------------------------

def many_positions(count):
    return [Position(f"C{i:02d}USDT", "Buy", 1 + i, 10.0, swinging(11.0)) for i in range(count)]


def follow(sim, query, path=POSITIONS, name="symbol"):
    """Every page's rows (their `name`), following the cursors."""
    pages, cursor = [], None
    while cursor != "":
        result = ok(signed_get(sim, path, query + (f"&cursor={cursor}" if cursor else "")))
        pages.append([row[name] for row in result["list"]])
        cursor = result["nextPageCursor"]
        assert len(pages) < 10
    return pages


def test_positions_are_paginated_with_an_opaque_encoded_cursor(simulator):
    account = rich_account(positions=many_positions(7))
    sim = simulator([account])
    query = "category=linear&settleCoin=USDT&limit=3"
    first = ok(signed_get(sim, POSITIONS, query))
    assert "%2C" in first["nextPageCursor"] and "," not in first["nextPageCursor"]
    assert follow(sim, query) == [["C00USDT", "C01USDT", "C02USDT"],
                                  ["C03USDT", "C04USDT", "C05USDT"], ["C06USDT"]]
    sent = [q for path, q in account.calls if path == POSITIONS]
    assert sum("cursor=" in q for q in sent) == 2  # the pages followed are visible
    assert ok(signed_get(sim, POSITIONS, "category=linear&settleCoin=USDT"))["nextPageCursor"] == ""


def test_a_full_last_page_still_has_a_cursor_then_an_empty_page(simulator):
    sim = simulator([rich_account(positions=many_positions(6))])
    assert follow(sim, "category=linear&settleCoin=USDT&limit=3") == [
        ["C00USDT", "C01USDT", "C02USDT"], ["C03USDT", "C04USDT", "C05USDT"], []]


def test_position_filters_and_parameter_errors(simulator):
    sim = simulator([rich_account()])
    inverse = ok(signed_get(sim, POSITIONS, "category=inverse"))["list"]
    empty = next(row for row in inverse if row["symbol"] == "ETHUSD")  # an empty slot
    assert (empty["size"], empty["side"], empty["avgPrice"], empty["liqPrice"]) == ("0", "", "0", "")
    assert empty["positionValue"] == "" and empty["unrealisedPnl"] == ""
    assert ok(signed_get(sim, POSITIONS, "category=linear&settleCoin=USDC"))["list"] == []
    assert ok(signed_get(sim, POSITIONS, "category=linear&symbol=BTCUSDT"))["list"]
    for query in ("category=linear", "category=spot", "", "category=inverse&limit=201",
                  "category=inverse&limit=0", "category=inverse&cursor=junk"):
        assert signed_get(sim, POSITIONS, query).json()["retCode"] == 10001, query


def test_portfolio_margin_leaves_position_margin_fields_blank(simulator):
    sim = simulator([rich_account(margin_mode="PORTFOLIO_MARGIN")])
    [row] = ok(signed_get(sim, POSITIONS, QUERIES[POSITIONS]))["list"]
    assert row["leverage"] == row["liqPrice"] == row["positionIM"] == row["positionMM"] == ""


# ---- open orders and borrowing ---------------------------------------------------------------

def many_orders(count):
    return [Order("BTCUSDT", "Buy", 0.01, 50_000 + i, created_ms=1_716_000_000_000 + i,
                  order_id=f"o{i:03d}") for i in range(count)]


def test_open_orders_come_newest_first_in_pages_of_at_most_50(simulator):
    sim = simulator([rich_account(orders=many_orders(120))])
    pages = follow(sim, "category=linear&settleCoin=USDT&limit=50", ORDERS, "orderId")
    assert [len(page) for page in pages] == [50, 50, 20]
    assert pages[0][0] == "o119" and pages[-1][-1] == "o000"
    assert len(ok(signed_get(sim, ORDERS, "category=linear&settleCoin=USDT"))["list"]) == 20
    for query in ("category=linear", "category=linear&settleCoin=USDT&limit=51",
                  "category=futures", "category=spot&orderFilter=Everything"):
        assert signed_get(sim, ORDERS, query).json()["retCode"] == 10001, query


def test_order_filters_and_what_orders_hold_in_the_wallet(simulator):
    orders = [Order("BTCUSDT", "Buy", 0.2, 50_000.0, filled=0.05),  # opens: holds margin
              Order("BTCUSDT", "Sell", 0.2, 0.0, stop_order_type="StopLoss", reduce_only=True,
                    trigger_price=48_000),
              Order("ETHUSDT", "Sell", 1.5, 4_000.0, category="spot", base_coin="ETH"),
              Order("ETHUSDT", "Buy", 1.0, 2_000.0, category="spot", base_coin="ETH")]
    sim = simulator([rich_account(orders=orders)])
    plain = ok(signed_get(sim, ORDERS, "category=linear&settleCoin=USDT&orderFilter=Order"))
    assert [(r["orderType"], r["orderStatus"], r["leavesQty"]) for r in plain["list"]] == [
        ("Limit", "PartiallyFilled", "0.150")]
    stops = ok(signed_get(sim, ORDERS, "category=linear&symbol=BTCUSDT&orderFilter=StopOrder"))
    assert [r["stopOrderType"] for r in stops["list"]] == ["StopLoss"]
    assert len(ok(signed_get(sim, ORDERS, "category=spot"))["list"]) == 2
    coins = {c["coin"]: c for c in ok(signed_get(sim, WALLET, QUERIES[WALLET]))["list"][0]["coin"]}
    assert float(coins["USDT"]["totalOrderIM"]) == pytest.approx(0.15 * 50_000 / 10)
    assert float(coins["USDT"]["locked"]) == pytest.approx(2_000.0)  # the spot buy's quote
    assert float(coins["ETH"]["locked"]) == pytest.approx(1.5)
    assert float(coins["BTC"]["locked"]) == 0.0 and float(coins["BTC"]["totalOrderIM"]) == 0.0


def test_a_positions_own_tp_sl_are_open_orders_of_its_size(simulator):
    long = Position("BTCUSDT", "Buy", 0.3, 60000, swinging(64000), stop_loss=55000,
                    take_profit=70000, position_idx=1)
    short = Position("BTCUSD", "Sell", 200, 65000, swinging(64000), category="inverse",
                     settle_coin="BTC", trailing_stop=300)
    sim = simulator([rich_account(positions=[long, short], orders=[])])
    linear = ok(signed_get(sim, ORDERS, "category=linear&settleCoin=USDT"))["list"]
    assert sorted((r["stopOrderType"], r["side"], r["qty"], r["triggerPrice"], r["positionIdx"])
                  for r in linear) == [("StopLoss", "Sell", "0.300", "55000.00", 1),
                                       ("TakeProfit", "Sell", "0.300", "70000.00", 1)]
    assert all(r["reduceOnly"] and r["closeOnTrigger"] and r["orderStatus"] == "Untriggered"
               and r["orderType"] == "Market" for r in linear)
    [trailing] = ok(signed_get(sim, ORDERS, "category=inverse"))["list"]
    assert (trailing["stopOrderType"], trailing["side"], trailing["qty"]) == (
        "TrailingStop", "Buy", "200.000")


def test_option_positions_are_shaped_as_the_captured_rows_and_paged(simulator):
    books = [OptionPosition(f"ETH-26DEC26-{3000 + 100 * i}-P-USDT", "Buy", 0.1, 6.1,
                            lambda t: 5.9, lambda t: -0.1) for i in range(5)]
    old = OptionPosition("BTC-14JUL23-30500-C", "Buy", 0.01, 275, lambda t: 347.0,
                         lambda t: 0.5, greeks=False)
    sim = simulator([rich_account(options=books + [old])])
    captured = json.loads((DOCS / "position_option_rows_2025_captured.json").read_text())[0]
    first = ok(signed_get(sim, POSITIONS, "category=option&baseCoin=ETH&limit=2"))
    assert len(first["list"]) == 2 and first["nextPageCursor"]
    row = first["list"][0]
    assert set(row) == set(captured)
    for key in ("leverage", "liqPrice", "takeProfit", "stopLoss", "trailingStop",
                "cumRealisedPnl", "positionIMByMp"):
        assert row[key] == "", key
    assert row["positionIM"] == row["positionMM"] == "0.00000000"  # bought: no margin
    assert float(row["delta"]) == pytest.approx(-0.01) and len(row["delta"].split(".")[1]) == 9
    [btc] = ok(signed_get(sim, POSITIONS, "category=option&baseCoin=BTC"))["list"]
    assert "delta" not in btc and btc["symbol"] == "BTC-14JUL23-30500-C"  # a 2023 row
    everything = ok(signed_get(sim, POSITIONS, "category=option"))["list"]
    assert len(everything) == 6


def test_mmp_freezes_and_accounts_without_it_get_110065(simulator):
    frozen = Mmp(frozen=frozen_now_and_then(every=10, lasting=5, offset=0))
    sim = simulator([rich_account(mmp={"ETH": frozen}), rich_account("K2", "S1", mmp=None)])
    states = set()
    for _ in range(12):
        [row] = ok(signed_get(sim, MMP, "baseCoin=ETH"))["result"]
        states.add(row["mmpFrozen"])
        assert (int(row["mmpFrozenUntil"]) > sim.now_ms()) == row["mmpFrozen"]
        time.sleep(1)
    assert states == {True, False}
    assert ok(signed_get(sim, MMP, "baseCoin=SOL"))["result"] == []  # a coin without MMP
    refused = signed_get(sim, MMP, "baseCoin=ETH", key="K2").json()
    assert (refused["retCode"], refused["retMsg"]) == NO_MMP  # the docs' words
    assert signed_get(sim, MMP, "").json()["retCode"] == 10001


def test_instruments_info_gives_every_expiry_and_options_per_base_coin(simulator):
    sim = simulator([rich_account(options=[OptionPosition(
        "SOL-16JUL25-155-P-USDT", "Buy", 1, 0.28, lambda t: 0.24, lambda t: -0.1)])])

    def listing(query):
        body = requests.get(f"{sim.url}/v5/market/instruments-info?{query}", timeout=5).json()
        assert body["retCode"] == 0, body
        return {row["symbol"]: row["deliveryTime"] for row in body["result"]["list"]}

    options = listing("category=option")
    assert options and all(symbol.startswith("BTC-") for symbol in options)  # BTC only
    assert listing("category=option&baseCoin=SOL") == {
        "SOL-16JUL25-155-P-USDT": "1752652800000"}  # 2025-07-16 08:00 UTC
    linear = listing("category=linear")
    assert linear["BTCUSDT"] == "0" and linear["BTCUSDT-25DEC26"] == "1798185600000"
    assert listing("category=inverse")["BTCUSDZ26"] == "1798185600000"  # the last Friday
    assert expiry_ms("BTC-27DEC26-100000-C") == 1798358400000
    assert len(sim.public_calls) == 4


def test_collateral_info_lends_at_each_coins_rate_and_counts_what_is_borrowed(simulator):
    holdings = [Holding("USDT", 1000, 1.0, swing=0.0), Holding("SOL", 0.0, 145, borrow=40.0)]
    account = SimAccount(api_key="K1", secret="S1",
                         wallets={"UNIFIED": unified_wallet(holdings, calm_rate)},
                         borrow_rates={"SOL": lambda t: 0.0001 if t < 3600 else 0.0})
    sim = simulator([account])
    [sol] = ok(signed_get(sim, COLLATERAL, "currency=SOL"))["list"]
    assert (sol["currency"], sol["hourlyBorrowRate"], sol["borrowAmount"]) == (
        "SOL", "0.00010000", "40.00000000")
    assert float(sol["availableToBorrow"]) == float(sol["maxBorrowingAmount"]) - 40 - 10
    assert float(sol["borrowUsageRate"]) == pytest.approx((40 + 10) / 1000)


# ---- permissions and sites -------------------------------------------------------------------

def test_a_key_without_wallet_permission_gets_10005_on_the_asset_endpoints(simulator):
    sim = simulator([rich_account(key=KeyInfo(permissions=without("Wallet")))])
    for path, query in QUERIES.items():
        body = signed_get(sim, path, query).json()
        expected = 10005 if path in WALLET_ONLY else 0
        assert body["retCode"] == expected, path
        if expected:
            assert body["retMsg"] == ("Permission denied, please check your API key "
                                      "permissions.")
    assert ok(signed_get(sim, API_KEY))["permissions"]["Wallet"] == []


def test_positions_need_a_contract_permission_and_earn_needs_earn(simulator):
    sim = simulator([rich_account(key=KeyInfo(permissions=without("ContractTrade", "Derivatives",
                                                                  "Earn")))])
    assert signed_get(sim, POSITIONS, QUERIES[POSITIONS]).json()["retCode"] == 10005
    wallets = [w["accountType"] for w in ok(signed_get(sim, OVERVIEW))["list"]]
    assert "Earn" not in wallets and "TradingBot" in wallets


def test_a_sub_account_key_cannot_list_members(simulator):
    sim = simulator([rich_account(parent_uid="100000000")])
    assert signed_get(sim, MEMBERS).json()["retCode"] == 10005
    assert ok(signed_get(sim, API_KEY))["isMaster"] is False


def test_a_master_asks_for_a_sub_account_with_member_id(simulator):
    sim = simulator([rich_account()])
    overview = ok(signed_get(sim, OVERVIEW, "memberId=9007199254740993"))
    assert [w["accountType"] for w in overview["list"]] == ["UnifiedTradingAccount"]
    funding = ok(signed_get(sim, FUNDING, "accountType=FUND&memberId=9007199254740993"))
    assert funding["memberId"] == "9007199254740993"
    assert signed_get(sim, OVERVIEW, "memberId=42").json()["retCode"] == 10001


def test_asset_overview_is_not_offered_on_a_regional_site(simulator):
    sim = simulator([rich_account(regional_site="EU")])
    response = signed_get(sim, OVERVIEW)
    assert response.status_code == 404 and response.content == b""
    assert ok(signed_get(sim, FUNDING, "accountType=FUND"))


def test_asset_values_move_with_time():
    account = rich_account()
    at = [asset_overview(Call(account, {}, t, 0))["totalEquity"] for t in (0.0, 150.0)]
    assert at[0] != at[1]


# ---- money flows -----------------------------------------------------------------------------

def flows_account(**changes):
    return rich_account(**{"ledger": Ledger(), "deposits": [], "internal_deposits": [],
                           "withdrawals": [], **changes})


def log_ids(sim, query="", **kwargs):
    result = ok(signed_get(sim, LOG, query, **kwargs))
    return [row["id"] for row in result["list"]]


def test_the_transaction_log_window_is_the_documented_one(simulator):
    account = flows_account()
    sim = simulator([account])
    now = sim.now_ms()
    for name, age in (("1h", HOUR_MS), ("23h", 23 * HOUR_MS), ("25h", 25 * HOUR_MS),
                      ("3d", 3 * DAY_MS), ("8d", 8 * DAY_MS), ("3y", 3 * 365 * DAY_MS)):
        account.ledger.transfer_in(now - age, "USDT", "1", row_id=name)
    assert log_ids(sim) == ["1h", "23h"]  # none given: the last 24 hours
    assert log_ids(sim, "accountType=UNIFIED") == ["1h", "23h"]
    assert log_ids(sim, f"startTime={now - 26 * HOUR_MS}") == ["23h", "25h"]  # start + 24 h
    assert log_ids(sim, f"startTime={now - 25 * HOUR_MS}") == ["23h", "25h"]  # from start on
    assert log_ids(sim, f"endTime={now - 24 * HOUR_MS}") == ["25h"]  # end - 24 h to end
    assert log_ids(sim, f"endTime={now - 23 * HOUR_MS}") == ["25h"]  # end itself is not in
    assert log_ids(sim, f"endTime={now - 23 * HOUR_MS + 1}") == ["23h", "25h"]
    week = f"startTime={now - 9 * DAY_MS}&endTime={now - 2 * DAY_MS}"  # exactly 7 days
    assert log_ids(sim, week) == ["3d", "8d"]
    old = now - 3 * 365 * DAY_MS
    assert log_ids(sim, f"startTime={old - DAY_MS}&endTime={old + DAY_MS}") == []  # > 2 years
    for query in (f"startTime={now - 9 * DAY_MS}&endTime={now - 2 * DAY_MS + 1}",
                  f"startTime={now}&endTime={now - 1}", "startTime=yesterday"):
        body = signed_get(sim, LOG, query).json()
        assert body["retCode"] == 10001 and body["result"] == {}, query
    wide = signed_get(sim, LOG, f"startTime={now - 8 * DAY_MS}&endTime={now}").json()
    assert wide["retMsg"] == "The start time and end time must be within 7 days"


def test_the_transaction_log_is_for_unified_accounts_only(simulator):
    classic = SimAccount(api_key="C", secret="S1", wallets={"SPOT": lambda t: {}})
    sim = simulator([flows_account(), classic])
    for query, key in (("accountType=CONTRACT", "K1"), ("accountType=SPOT", "K1"),
                       ("", "C"), ("accountType=UNIFIED", "C")):
        body = signed_get(sim, LOG, query, key=key).json()
        assert (body["retCode"], body["retMsg"]) == (10001, "accountType only support UNIFIED")


def many_rows(ledger, now, count):
    for i in range(count):
        ledger.trade(now - (i + 1) * 60_000, "BTCUSDT", "Buy", "0.001", "64000", row_id=f"t{i}")


def walk(sim, path, query, key="list"):
    """Every page, the cursor sent back exactly as it came: (pages of ids, cursors)."""
    pages, cursors, cursor = [], [], ""
    while True:
        sent = query + (f"&cursor={cursor}" if cursor else "")
        result = ok(signed_get(sim, path, sent.lstrip("&")))
        pages.append([row.get("id") or row.get("withdrawId") for row in result[key]])
        cursor = result["nextPageCursor"]
        if not cursor:
            return pages, cursors
        cursors.append(cursor)
        assert len(pages) < 20


def test_transaction_log_pages_with_url_encoded_cursors(simulator):
    account = flows_account()
    sim = simulator([account])
    many_rows(account.ledger, sim.now_ms(), 45)
    pages, cursors = walk(sim, LOG, "accountType=UNIFIED")
    assert [len(p) for p in pages] == [20, 20, 5]  # limit 20 by default
    assert sum(pages, []) == [f"t{i}" for i in range(45)]  # newest first, none twice
    for cursor in cursors:  # opaque and encoded: sent back as it came, signed as sent
        assert "%3A" in cursor and "%2C" in cursor and ":" not in cursor and "," not in cursor
    sent = [q for path, q in account.calls if "cursor=" in q]
    assert [q.split("cursor=")[1] for q in sent] == cursors
    pages, _ = walk(sim, LOG, "limit=50")
    assert [len(p) for p in pages] == [45]
    pages, _ = walk(sim, LOG, "limit=7&currency=USDT&type=TRADE")
    assert [len(p) for p in pages] == [7] * 6 + [3]
    for limit in ("0", "51", "x"):
        assert signed_get(sim, LOG, f"limit={limit}").json()["retCode"] == 10001


def test_a_cursor_encoded_twice_is_refused(simulator):
    account = flows_account()
    sim = simulator([account])
    many_rows(account.ledger, sim.now_ms(), 25)
    cursor = ok(signed_get(sim, LOG, ""))["nextPageCursor"]
    body = signed_get(sim, LOG, f"cursor={quote(cursor, safe='')}").json()
    assert (body["retCode"], body["retMsg"]) == (10001, "invalid cursor")
    assert signed_get(sim, LOG, "cursor=junk").json()["retCode"] == 10001
    # a cursor decoded before sending works too: the server decodes it once either way
    decoded = unquote(cursor)
    assert len(ok(signed_get(sim, LOG, f"cursor={decoded}"))["list"]) == 5
    # signed over the decoded text but sent encoded: a signature error, as on Bybit
    assert signed_get(sim, LOG, f"cursor={cursor}",
                      signed_query=f"cursor={decoded}").json()["retCode"] == 10004


def test_a_late_row_is_served_only_once_it_has_arrived(simulator):
    account = flows_account()
    sim = simulator([account])
    now = sim.now_ms()
    account.ledger.trade(now - 10 * 60_000, "BTCUSDT", "Buy", "0.01", "64000", row_id="on-time")
    late = account.ledger.trade(now - 5 * 60_000, "BTCUSDT", "Sell", "0.01", "64100",
                                row_id="late", late_ms=6 * 60_000)
    assert late.visible_from_ms == now + 60_000 and late.time_ms == now - 5 * 60_000
    assert log_ids(sim) == ["on-time"]
    sim.clock_offset_ms = 61_000  # a minute later on the server
    assert log_ids(sim) == ["late", "on-time"]  # placed by its (older) transactionTime
    [row] = [r for r in ok(signed_get(sim, LOG))["list"] if r["id"] == "late"]
    assert row["transactionTime"] == str(now - 5 * 60_000)


def test_two_rows_of_different_types_may_share_an_id(simulator):
    account = flows_account()
    sim = simulator([account])
    now = sim.now_ms()
    account.ledger.trade(now - 7200_000, "XRPUSDT", "Buy", "100", "0.3615", row_id="592324_X")
    account.ledger.funding(now - 3600_000, "XRPUSDT", "Buy", "100", "0.3676", "0.0001",
                           row_id="592324_X")
    rows = ok(signed_get(sim, LOG))["list"]
    assert [(r["id"], r["type"]) for r in rows] == [("592324_X", "SETTLEMENT"),
                                                    ("592324_X", "TRADE")]
    assert [r["type"] for r in ok(signed_get(sim, LOG, "type=TRADE"))["list"]] == ["TRADE"]


def test_transaction_log_filters(simulator):
    account = flows_account()
    sim = simulator([account])
    now = sim.now_ms()
    account.ledger.trade(now - 3000, "ETHPERP", "Buy", "1", "3100", currency="USDC", row_id="e")
    account.ledger.trade(now - 2000, "BTCUSDT", "Buy", "0.1", "64000", row_id="b")
    account.ledger.trade(now - 1000, "BTCUSDT", "Buy", "0.1", "64000", category="spot",
                         row_id="s")
    account.ledger.interest(now - 500, "USDT", "0.5", row_id="i")
    assert log_ids(sim, "currency=USDC") == ["e"]
    assert log_ids(sim, "baseCoin=BTC") == ["s", "b"]
    assert log_ids(sim, "category=linear") == ["b", "e"]
    assert log_ids(sim, "type=INTEREST") == ["i"]


def test_rows_added_while_the_server_runs(simulator):
    """An account's `advance` books what is due before each money-flow answer."""
    due = []

    def advance(account, now_ms):
        while len(due) < 3:
            due.append(now_ms)
            account.ledger.transfer_out(now_ms - len(due), "USDT", "1", row_id=f"out{len(due)}")

    account = flows_account(advance=advance)
    sim = simulator([account])
    assert log_ids(sim) == ["out1", "out2", "out3"]
    assert ok(signed_get(sim, LOG))["list"][0]["cashFlow"] == "-1"


def test_deposit_and_withdrawal_records(simulator):
    now = int(time.time() * 1000)
    account = flows_account(
        deposits=[Deposit("USDT", str(i), now - i * DAY_MS, status=(3, 2, 4, 70011)[i % 4])
                  for i in range(1, 33)],
        internal_deposits=[InternalDeposit("USDT", "5", now - 1000, status=1)],
        withdrawals=[Withdrawal("USDT", "10", now - DAY_MS, withdraw_fee="1"),
                     Withdrawal("USDT", "20", now - 2 * DAY_MS, off_chain=True),
                     Withdrawal("BTC", "0.1", now - 3 * DAY_MS, status="Pending")])
    sim = simulator([account])
    rows = ok(signed_get(sim, DEPOSITS))["rows"]  # the last 30 days, limit 50
    assert [r["amount"] for r in rows] == [str(i) for i in range(1, 30)]
    assert [r["status"] for r in rows[:4]] == [2, 4, 70011, 3] and rows[3]["successAt"]
    pages, cursors = walk(sim, DEPOSITS, "limit=10", key="rows")
    assert [len(p) for p in pages] == [10, 10, 9] and all("%2C" in c for c in cursors)
    assert signed_get(sim, DEPOSITS, f"cursor={quote(cursors[0], safe='')}").json()[
        "retCode"] == 10001
    month = f"startTime={now - 33 * DAY_MS}&endTime={now - 3 * DAY_MS}"  # exactly 30 days
    assert [r["amount"] for r in ok(signed_get(sim, DEPOSITS, month))["rows"]] == [
        str(i) for i in range(4, 33)]  # [start, end)
    too_wide = f"startTime={now - 33 * DAY_MS}&endTime={now - 3 * DAY_MS + 1}"
    assert signed_get(sim, DEPOSITS, too_wide).json()["retCode"] == 10001
    assert ok(signed_get(sim, DEPOSITS, "coin=BTC"))["rows"] == []
    assert ok(signed_get(sim, INTERNAL))["rows"][0]["status"] == 1

    def withdrawn(query):
        return [r["amount"] for r in ok(signed_get(sim, WITHDRAWALS, query))["rows"]]

    assert withdrawn("") == withdrawn("withdrawType=0") == ["10", "0.1"]  # on-chain only
    assert withdrawn("withdrawType=1") == ["20"]
    assert withdrawn("withdrawType=2") == ["10", "20", "0.1"]
    statuses = [r["status"] for r in ok(signed_get(sim, WITHDRAWALS, "withdrawType=2"))["rows"]]
    assert statuses == ["success", "success", "Pending"]
    assert signed_get(sim, WITHDRAWALS, "withdrawType=3").json()["retCode"] == 10001
    account.withdrawals[2].status = "success"  # a record moves on
    assert ok(signed_get(sim, WITHDRAWALS, "coin=BTC"))["rows"][0]["status"] == "success"


def test_money_flow_permissions(simulator):
    sim = simulator([flows_account(key=KeyInfo(permissions=without("Wallet"))),
                     flows_account(api_key="SUB", uid="100000002", parent_uid="100000001")])
    for path in (DEPOSITS, INTERNAL, WITHDRAWALS):
        assert signed_get(sim, path, QUERIES[path]).json()["retCode"] == 10005, path
    assert ok(signed_get(sim, LOG)) is not None  # any key may read the log
    body = signed_get(sim, WITHDRAWALS, "withdrawType=2", key="SUB").json()  # master keys only
    assert (body["retCode"], body["retMsg"]) == (10005, "Permission denied, please check your "
                                                        "API key permissions.")
    for path in (LOG, DEPOSITS, INTERNAL):
        assert ok(signed_get(sim, path, QUERIES[path], key="SUB")) is not None


@pytest.mark.parametrize("path", PER_MINUTE)
def test_deposit_and_withdrawal_limits_are_per_minute(simulator, path):
    sim = simulator([flows_account()])
    session = requests.Session()
    limit = LIMITS[path]
    codes = [signed_get(sim, path, QUERIES[path], session=session).json()["retCode"]
             for _ in range(limit)]
    assert codes == [0] * limit
    time.sleep(1.1)  # a second later the minute is still running
    refused = signed_get(sim, path, QUERIES[path], session=session)
    assert refused.json()["retCode"] == 10006 and refused.headers["X-Bapi-Limit"] == str(limit)
    reset = int(refused.headers["X-Bapi-Limit-Reset-Timestamp"])
    assert sim.now_ms() + 30_000 < reset <= sim.now_ms() + 60_000


def test_ledger_books_running_balances_and_the_change_identity():
    ledger = Ledger({"USDT": "100"})
    rows = [ledger.trade(1, "BTCUSDT", "Buy", "0.1", "60000", fee_rate="-0.0001"),  # a rebate
            ledger.funding(2, "BTCUSDT", "Sell", "0.1", "60000", "0.0002"),  # a short receives
            ledger.transfer_out(3, "USDT", "50"),
            ledger.add(LedgerRow("x", "BONUS", "USDT", 4, cash_flow=Decimal("2.5")))]
    assert [r.change for r in rows] == [Decimal("0.6"), Decimal("1.2"), Decimal("-50"),
                                        Decimal("2.5")]
    assert [r.cash_balance for r in rows] == [Decimal("100.6"), Decimal("101.8"),
                                              Decimal("51.8"), Decimal("54.3")]
    assert ledger.balance("USDT") == Decimal("54.3") and rows[2].row()["fee"] == ""


# ---- the demo --------------------------------------------------------------------------------

@pytest.fixture
def demo(simulator):
    sim_accounts, exporter_accounts = demo_accounts()
    sim = simulator(sim_accounts)
    by_name = {d.name: (d, sim.accounts[d.api_key]) for d in exporter_accounts}
    return sim, by_name


def demo_get(sim, demo_account, path, query=None):
    return signed_get(sim, path, QUERIES[path] if query is None else query,
                      key=demo_account.api_key, secret=demo_account.secret)


def test_demo_accounts_and_their_collectors(demo):
    _, by_name = demo
    assert {name: d.account_types for name, (d, _) in by_name.items()} == {
        "demo-unified": ("UNIFIED",), "demo-classic": ("SPOT", "CONTRACT"),
        "demo-leveraged": ("UNIFIED",), "demo-isolated": ("UNIFIED",),
        "demo-options": ("UNIFIED",)}
    default = ("wallet", "account_info", "positions", "orders", "borrowing", "options",
               "assets", "funding", "api_key", "transactions")
    assert by_name["demo-unified"][0].collect == default + ("members", "deposits")
    unified_only = ("orders", "borrowing", "options", "transactions")  # no Unified account
    assert by_name["demo-classic"][0].collect == tuple(c for c in default
                                                        if c not in unified_only)
    assert by_name["demo-options"][0].collect == default + ("mmp",)
    assert all(d.collect == default for name, (d, _) in by_name.items()
               if name not in ("demo-unified", "demo-classic", "demo-options"))
    leveraged = by_name["demo-leveraged"][1].wallets["UNIFIED"]
    assert float(leveraged(0)["accountMMRate"]) < 0.6
    assert float(leveraged(1200)["accountMMRate"]) > 0.85


def test_demo_every_collector_gets_an_answer(demo):
    sim, by_name = demo
    for name, (d, account) in by_name.items():
        wallet = d.account_types[0]
        queries = {**QUERIES, WALLET: f"accountType={wallet}"}
        for path in ROUTES:
            code = demo_get(sim, d, path, queries[path]).json()["retCode"]
            denied = name == "demo-classic" and path in WALLET_ONLY
            not_unified = name == "demo-classic" and path in UNIFIED_ONLY
            no_mmp = path == MMP and account.mmp is None
            expected = 10005 if denied else 10001 if not_unified else NO_MMP[0] if no_mmp else 0
            assert code == expected, (name, path)


def test_demo_isolated_account(demo):
    sim, by_name = demo
    d, account = by_name["demo-isolated"]
    assert ok(demo_get(sim, d, INFO))["marginMode"] == "ISOLATED_MARGIN"
    entry = ok(demo_get(sim, d, WALLET))["list"][0]
    for name in ("accountIMRate", "accountMMRate", "totalMarginBalance", "totalAvailableBalance",
                 "totalInitialMargin", "totalMaintenanceMargin"):
        assert entry[name] == "", name
    assert float(entry["totalEquity"]) > 0
    rows = [row for q in ("category=linear&settleCoin=USDT", "category=linear&settleCoin=USDC",
                          "category=inverse&limit=200")
            for row in ok(demo_get(sim, d, POSITIONS, q))["list"]]
    open_rows = [row for row in rows if float(row["size"]) > 0]
    assert {row["symbol"] for row in open_rows} >= {"BTCUSDT", "ETHPERP", "BTCUSD"}
    assert {row["positionIdx"] for row in open_rows} == {0, 1, 2}
    assert all(row["liqPrice"] for row in open_rows)  # exact in isolated margin

    def distances(t):
        return [abs(float(r["markPrice"]) - float(r["liqPrice"])) / float(r["markPrice"])
                for r in (p.row(t, 0, "ISOLATED_MARGIN") for p in account.positions if p.size)]

    start, later = distances(0), distances(600)
    drifting = [i for i, (a, b) in enumerate(zip(start, later)) if a > 0.25 and b < 0.05]
    assert len(drifting) == 1
    assert all(b > 0.05 for i, b in enumerate(later) if i not in drifting)


def test_demo_unified_account_has_wallets_funding_and_members(demo):
    sim, by_name = demo
    d, _ = by_name["demo-unified"]
    overview = {w["accountType"]: w for w in ok(demo_get(sim, d, OVERVIEW))["list"]}
    assert {"FundingAccount", "UnifiedTradingAccount", "Earn", "TradingBot"} <= set(overview)
    assert overview["Earn"]["categories"]
    coins = [b["coin"] for b in ok(demo_get(sim, d, FUNDING))["balance"]]
    tickers = ok(requests.get(sim.url + "/v5/market/tickers?category=spot", timeout=5))["list"]
    index = {t["symbol"]: t["usdIndexPrice"] for t in tickers}
    unpriced = [c for c in coins if c != "USDT" and index.get(c + "USDT") == ""]
    assert len(unpriced) == 1 and all(index.get(c + "USDT") for c in coins
                                      if c not in ("USDT", *unpriced))
    members = ok(demo_get(sim, d, MEMBERS))["list"]
    assert [m["isM"] for m in members] == [True, False, False]
    assert any(int(m["uid"]) > 2 ** 53 for m in members)
    assert all(isinstance(m["uid"], str) for m in members)


def test_demo_keys(demo):
    sim, by_name = demo
    keys = {name: ok(demo_get(sim, d, API_KEY)) for name, (d, _) in by_name.items()}
    trading = [name for name, k in keys.items() if k["readOnly"] == 0]
    assert trading == ["demo-leveraged"] and keys["demo-leveraged"]["deadlineDay"] == 10
    assert keys["demo-leveraged"]["expiredAt"] != "1970-01-01T00:00:00Z"
    bound = [name for name, k in keys.items() if k["ips"] != ["*"]]
    assert bound == ["demo-unified"] and keys["demo-unified"]["deadlineDay"] == -2


def test_demo_money_flows_move_as_the_demo_runs(demo):
    sim, by_name = demo
    d, account = by_name["demo-leveraged"]

    def log(query="limit=50"):
        return ok(demo_get(sim, d, LOG, query))["list"]

    assert {r["type"] for r in log()} >= {"TRADE", "SETTLEMENT"}  # the last 24 hours
    now = sim.now_ms()
    assert log(f"type=TRANSFER_IN&startTime={now - 7 * DAY_MS}&endTime={now}")
    old = log(f"startTime={now - 10 * DAY_MS + HOUR_MS}&endTime={now - 9 * DAY_MS}")
    assert old  # history older than one 7-day window
    sim.clock_offset_ms = 30_000
    half_minute = log()
    new = [r for r in half_minute if int(r["transactionTime"]) > now]
    assert {r["type"] for r in new} >= {"TRADE", "SETTLEMENT"} and len(new) >= 5
    [settlement] = [r for r in new if r["type"] == "SETTLEMENT"]
    late = [r for r in account.ledger.rows() if r.visible_from_ms and r.time_ms > now]
    assert late and late[0].visible_from_ms - late[0].time_ms == 45_000
    assert (late[0].id, "TRADE") not in {(r["id"], r["type"]) for r in half_minute}
    sim.clock_offset_ms = 80_000  # every fill of the half minute has arrived by now
    later = log()
    assert (late[0].id, "TRADE") in {(r["id"], r["type"]) for r in later}
    assert any(r["id"] == settlement["id"] and r["type"] == "TRADE" for r in later)
    assert any(Decimal(r["cashFlow"]) != 0 for r in log("type=TRADE&limit=50"))  # realised PnL


def test_demo_deposits_and_withdrawals_settle(demo):
    sim, by_name = demo
    d, _ = by_name["demo-unified"]

    def statuses(path, query=""):
        return sorted(str(r["status"]) for r in ok(demo_get(sim, d, path, query))["rows"])

    assert statuses(DEPOSITS) == ["2", "3", "3", "3", "4"]
    assert statuses(WITHDRAWALS) == ["Pending", "success", "success"]
    assert statuses(WITHDRAWALS, "withdrawType=2") == ["Pending", "success", "success", "success"]
    assert statuses(INTERNAL) == ["2"]
    interest = ok(demo_get(sim, d, LOG, "type=INTEREST"))["list"]
    assert interest and all(r["currency"] == "SOL" and r["cashFlow"].startswith("-")
                            for r in interest)
    sim.clock_offset_ms = 61_000
    assert statuses(DEPOSITS) == ["3", "3", "3", "3", "4"]
    assert statuses(WITHDRAWALS, "withdrawType=2") == ["success"] * 4


def test_a_restarted_demo_books_the_same_rows_again():
    """Rows are made from their time alone: stored totals can tell them apart from new ones."""
    def booked(start_ms, until_ms):
        account = rich_account(ledger=Ledger())
        fund(account, Plan(borrowed=("SOL", "40")), start_ms, {"USDT": "100"})
        account.advance(account, until_ms)
        return {(r.type, r.time_ms): (r.id, r.cash_flow, r.funding, r.fee)
                for r in account.ledger.rows()}

    start = int(time.time() * 1000)
    first, restarted = booked(start, start + 120_000), booked(start + 37_000, start + 120_000)
    both = first.keys() & restarted.keys()
    assert len(both) > 300 and all(first[key] == restarted[key] for key in both)
    assert max(time for _, time in both) > start + 100_000  # rows after the restart included


def test_demo_shows_what_stands_between_positions_and_liquidation(demo):
    sim, by_name = demo
    leveraged, isolated = by_name["demo-leveraged"], by_name["demo-isolated"]
    [long] = ok(demo_get(sim, leveraged[0], POSITIONS))["list"]
    assert long["adlRankIndicator"] == 5  # at the top of the ADL queue
    stops = [r for r in ok(demo_get(sim, leveraged[0], ORDERS))["list"]
             if r["stopOrderType"] == "PartialStopLoss"]
    assert [float(r["leavesQty"]) / float(long["size"]) for r in stops] == [0.5]  # half covered
    rows = {row["symbol"]: row for q in ("category=linear&settleCoin=USDC", "category=inverse")
            for row in ok(demo_get(sim, isolated[0], POSITIONS, q))["list"]}
    restricted = rows["BTCUSD"]
    assert restricted["isReduceOnly"] is True
    assert int(restricted["mmrSysUpdatedTime"]) > sim.now_ms() + 3_600_000
    bare = rows["ETHPERP"]
    assert bare["stopLoss"] == bare["trailingStop"] == "0.00"
    assert not ok(demo_get(sim, isolated[0], ORDERS, "category=linear&settleCoin=USDC"))["list"]
    [eth] = [p for p in isolated[1].positions if p.symbol == "ETHPERP"]
    assert {eth.status(t) for t in range(0, 600, 10)} == {"Normal", "Liq"}  # now and then
    sol_rate = by_name["demo-unified"][1].borrow_rates["SOL"]
    yearly = {round(sol_rate(t) * 24 * 365, 2) for t in range(0, 1200, 30)}
    assert yearly == {0.05, 1.05}  # spikes above BybitBorrowRateHigh's 50 % a year


def test_collateral_info_answers_for_wallet_coins_without_a_borrow_amount(simulator):
    """Hand-made wallets (the benchmark's fleet) list coins without borrowAmount: not borrowed."""
    def wallet(_: float) -> dict:
        return {"accountType": "UNIFIED", "totalEquity": "1",
                "coin": [{"coin": "BTC", "equity": "1", "walletBalance": "1", "usdValue": "1"}]}

    sim = simulator([SimAccount(api_key="K1", secret="S1", wallets={"UNIFIED": wallet})])
    [btc] = ok(signed_get(sim, COLLATERAL, "currency=BTC"))["list"]
    assert btc["borrowAmount"] == "0.00000000"


def test_demo_options_desk_in_portfolio_margin(demo):
    """Greeks that move, a linear hedge without a liquidation price, MMP freezing on BTC."""
    sim, by_name = demo
    d, account = by_name["demo-options"]
    assert ok(demo_get(sim, d, INFO))["marginMode"] == "PORTFOLIO_MARGIN"
    coins = ok(demo_get(sim, d, WALLET))["list"][0]["coin"]
    assert all(c["totalPositionIM"] == c["totalPositionMM"] == c["totalOrderIM"] == ""
               for c in coins)  # portfolio margin: unknown per coin
    [hedge] = ok(demo_get(sim, d, POSITIONS))["list"]
    assert hedge["side"] == "Sell" and hedge["liqPrice"] == hedge["leverage"] == ""
    book = ok(demo_get(sim, d, POSITIONS, "category=option"))["list"]
    assert {row["symbol"].split("-")[0] for row in book} == {"BTC", "ETH"}
    assert {row["side"] for row in book} == {"Buy", "Sell"}
    assert {row["symbol"].endswith("-USDT") for row in book} == {True, False}
    deltas = {round(sum(o.position_greeks(t)["delta"] for o in account.options), 3)
              for t in range(0, 600, 60)}
    assert len(deltas) > 5  # the greeks move
    btc = account.mmp["BTC"]
    assert {btc.frozen(t) for t in range(0, 600, 15)} == {True, False}
