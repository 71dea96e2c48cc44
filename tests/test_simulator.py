"""The simulated Bybit on its own, over real HTTP: every endpoint's documented shape, the auth
rules, per-endpoint per-UID limits, pagination, permissions, and the --demo accounts."""

import json
import math
import time

import pytest
import requests

from exporter.bybit import signing
from exporter.simulator import (ROUTES, FundingCoin, Holding, KeyInfo, Member, OverviewWallet,
                                Position, SimAccount, calm_rate, demo_accounts, swinging,
                                unified_wallet, without)
from exporter.simulator.endpoints import Call, asset_overview
from tests.conftest import unified_account

WALLET = "/v5/account/wallet-balance"
INFO = "/v5/account/info"
POSITIONS = "/v5/position/list"
OVERVIEW = "/v5/asset/asset-overview"
FUNDING = "/v5/asset/transfer/query-account-coins-balance"
API_KEY = "/v5/user/query-api"
MEMBERS = "/v5/asset/total-members-assets"
# a query each private endpoint answers with retCode 0
QUERIES = {WALLET: "accountType=UNIFIED", INFO: "", POSITIONS: "category=linear&settleCoin=USDT",
           OVERVIEW: "", FUNDING: "accountType=FUND", API_KEY: "", MEMBERS: "coin=BTC"}
LIMITS = {WALLET: 50, INFO: 50, POSITIONS: 50, OVERVIEW: 50, FUNDING: 5, API_KEY: 10, MEMBERS: 50}
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
        members=[Member("100000001", {"ACCOUNT_TYPE_FUND": 10.5}, is_master=True),
                 Member("9007199254740993", {"ACCOUNT_TYPE_UNIFIED": 12345.678})])
    fields.update(changes)
    holdings = [Holding("BTC", 1.5, 60000), Holding("USDT", 1000, 1.0, swing=0.0)]
    return SimAccount(api_key=api_key, secret=secret,
                      wallets={"UNIFIED": unified_wallet(holdings, calm_rate)}, **fields)


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
    assert len(sub["origb"].replace(".", "").lstrip("0")) >= 40  # every digit of the figure
    assert sub["items"][0]["type"] == "ACCOUNT_TYPE_UNIFIED"
    assert all(is_number_text(i["origb"]) and is_number_text(i["quoteb"]) for i in sub["items"])


CHECKS = {WALLET: check_wallet, INFO: check_info, POSITIONS: check_positions,
          OVERVIEW: check_overview, FUNDING: check_funding, API_KEY: check_api_key,
          MEMBERS: check_members}


def test_every_private_endpoint_is_covered():
    assert set(ROUTES) == set(QUERIES) == set(CHECKS) == set(LIMITS)
    assert {path: route.limit for path, route in ROUTES.items()} == LIMITS


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


@pytest.mark.parametrize("path", list(QUERIES))
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


def follow(sim, query):
    pages, cursor = [], None
    while cursor != "":
        result = ok(signed_get(sim, POSITIONS, query + (f"&cursor={cursor}" if cursor else "")))
        pages.append([row["symbol"] for row in result["list"]])
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


# ---- permissions and sites -------------------------------------------------------------------

def test_a_key_without_wallet_permission_gets_10005_on_the_asset_endpoints(simulator):
    sim = simulator([rich_account(key=KeyInfo(permissions=without("Wallet")))])
    for path, query in QUERIES.items():
        body = signed_get(sim, path, query).json()
        expected = 10005 if path in (OVERVIEW, FUNDING, MEMBERS) else 0
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
        "demo-leveraged": ("UNIFIED",), "demo-isolated": ("UNIFIED",)}
    default = ("wallet", "account_info", "positions", "assets", "funding", "api_key")
    assert by_name["demo-unified"][0].collect == default + ("members",)
    assert all(d.collect == default for name, (d, _) in by_name.items() if name != "demo-unified")
    leveraged = by_name["demo-leveraged"][1].wallets["UNIFIED"]
    assert float(leveraged(0)["accountMMRate"]) < 0.6
    assert float(leveraged(1200)["accountMMRate"]) > 0.85


def test_demo_every_collector_gets_an_answer(demo):
    sim, by_name = demo
    for name, (d, _) in by_name.items():
        wallet = d.account_types[0]
        queries = {**QUERIES, WALLET: f"accountType={wallet}"}
        for path in ROUTES:
            code = demo_get(sim, d, path, queries[path]).json()["retCode"]
            denied = name == "demo-classic" and path in (OVERVIEW, FUNDING, MEMBERS)
            assert code == (10005 if denied else 0), (name, path)


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
