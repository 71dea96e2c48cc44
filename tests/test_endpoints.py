"""The collectors of "the whole account" on the shapes Bybit documents and publishes."""

import json

import pytest

from exporter.bybit.answers import InvalidResponse
from exporter.bybit.endpoint import Context
from exporter.bybit.endpoints import account_info, api_key, assets, funding, members, positions


def ok(result):
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1}


def values(module, *payloads, prices=None):
    translation = module.translate(list(payloads), Context({}, prices or {}))
    return {(s.family.name, s.labels): s.value for s in translation.samples}


DOC_INVERSE = json.loads('{"positionIdx":0,"symbol":"BTCUSD","side":"Sell","size":"300",'
                         '"avgPrice":"27464.50441675","positionValue":"0.01092319","leverage":'
                         '"10","markPrice":"28224.50","liqPrice":"","positionIM":"0.00010923",'
                         '"positionMM":"0.0000015","unrealisedPnl":"-0.00029413",'
                         '"cumRealisedPnl":"-0.00096902","positionStatus":"Normal"}')
EMPTY_SLOT = {"positionIdx": 0, "symbol": "ETHUSD", "side": "", "size": "0", "avgPrice": "0",
              "positionValue": "", "unrealisedPnl": "", "liqPrice": "", "markPrice": "1800"}
LONG = {"positionIdx": "1", "symbol": "BTCUSDT", "side": "Buy", "size": "0.5",
        "avgPrice": "64000", "markPrice": "60000", "liqPrice": "57000", "leverage": "5",
        "positionIM": "6400", "positionMM": "160", "positionValue": "32000",
        "unrealisedPnl": "-2000"}


def test_positions_the_documented_inverse_one_and_an_empty_slot():
    found = values(positions, ok({"category": "inverse", "nextPageCursor": "",
                                  "list": [DOC_INVERSE, EMPTY_SLOT]}))
    labels = ("inverse", "BTCUSD", "Sell", "0")
    assert found[("bybit_position_size", labels)] == 300.0
    assert found[("bybit_position_entry_price", labels)] == pytest.approx(27464.50441675)
    assert found[("bybit_position_unrealised_pnl", labels)] == pytest.approx(-0.00029413)
    # liqPrice "" (none, or out of range): neither a price nor a distance, never 0
    assert ("bybit_position_liquidation_price", labels) not in found
    assert ("bybit_position_liquidation_distance_ratio", labels) not in found
    assert not any(key[1][1] == "ETHUSD" for key in found)  # the empty slot is no position


def test_liquidation_distance_and_hedge_mode_sides_across_pages():
    page1 = ok({"category": "linear", "nextPageCursor": "BTCUSDT%2C1%2C0", "list": [LONG]})
    short = dict(LONG, positionIdx=2, side="Sell", liqPrice="999999.00")
    page2 = ok({"category": "linear", "nextPageCursor": "", "list": [short]})
    found = values(positions, page1, page2)
    assert found[("bybit_position_liquidation_distance_ratio",
                  ("linear", "BTCUSDT", "Buy", "1"))] == pytest.approx(0.05)
    assert found[("bybit_position_liquidation_distance_ratio",
                  ("linear", "BTCUSDT", "Sell", "2"))] == pytest.approx(15.66665)
    assert found[("bybit_position_leverage", ("linear", "BTCUSDT", "Buy", "1"))] == 5.0


@pytest.mark.parametrize("liq", ["", "0", "0.00"])
def test_no_liquidation_distance_without_a_liquidation_price(liq):
    found = values(positions, ok({"category": "linear", "list": [dict(LONG, liqPrice=liq)]}))
    assert not any(name == "bybit_position_liquidation_distance_ratio" for name, _ in found)
    assert found[("bybit_position_size", ("linear", "BTCUSDT", "Buy", "1"))] == 0.5


@pytest.mark.parametrize("result", [
    {"list": [LONG]},  # no category
    {"category": "linear", "list": [LONG, LONG]},  # one position twice
    {"category": "linear", "list": [LONG, "BTCUSDT"]},
    {"category": "linear", "list": {"symbol": "BTCUSDT"}},
])
def test_positions_of_the_wrong_shape_are_refused(result):
    with pytest.raises(InvalidResponse):
        positions.translate([ok(result)], Context({}))


@pytest.mark.parametrize("mode", ["ISOLATED_MARGIN", "REGULAR_MARGIN", "PORTFOLIO_MARGIN"])
def test_margin_mode(mode):
    found = values(account_info, ok({"unifiedMarginStatus": 5, "marginMode": mode}))
    assert found == {("bybit_account_info", (mode,)): 1.0}


@pytest.mark.parametrize("expired_at, ips, read_only, expected", [
    ("1970-01-01T00:00:00Z", ["*"], 1, {"bybit_api_key_read_only": 1.0,
                                         "bybit_api_key_ip_restricted": 0.0}),
    ("2026-12-06T00:00:00Z", [], 0, {"bybit_api_key_expiry_timestamp_seconds": 1796515200.0,
                                      "bybit_api_key_read_only": 0.0,
                                      "bybit_api_key_ip_restricted": 0.0}),
    ("2027-01-01T00:00:00Z", ["192.0.2.1"], "1", {
        "bybit_api_key_expiry_timestamp_seconds": 1798761600.0, "bybit_api_key_read_only": 1.0,
        "bybit_api_key_ip_restricted": 1.0}),
])
def test_api_key(expired_at, ips, read_only, expected):
    found = values(api_key, ok({"id": "1", "apiKey": "NOT-EXPORTED", "readOnly": read_only,
                                "ips": ips, "expiredAt": expired_at, "deadlineDay": -2}))
    assert {name: value for (name, _), value in found.items()} == expected


def test_asset_overview_total_and_wallets():
    found = values(assets, ok({"totalEquity": "7457023", "list": [
        {"accountType": "Earn", "totalEquity": "20888.1", "valuationCurrency": "USD",
         "categories": [{"category": "Easy Earn", "equity": "1", "coinDetail": []}]},
        {"accountType": "FundingAccount", "totalEquity": "", "coinDetail": []}]}))
    assert found == {("bybit_total_equity_usd", ()): 7457023.0,
                     ("bybit_wallet_equity_usd", ("Earn",)): 20888.1}
    assert values(assets, ok({"totalEquity": "0", "list": []})) == {
        ("bybit_total_equity_usd", ()): 0.0}


def test_funding_coins_valued_with_index_prices_only_where_there_is_one():
    found = values(funding, ok({"accountType": "FUND", "balance": [
        {"coin": "BTC", "walletBalance": "0.5", "transferBalance": "0.5", "bonus": ""},
        {"coin": "MNT", "walletBalance": "10", "transferBalance": "-5", "bonus": "15"},
        {"coin": "POPCAT", "walletBalance": "100", "transferBalance": "100"}]}),
        prices={"BTC": 60000.0, "MNT": 0.8})
    assert found[("bybit_coin_value_usd", ("BTC",))] == 30000.0
    assert found[("bybit_coin_transfer_balance", ("MNT",))] == -5.0
    assert found[("bybit_coin_value_usd", ("MNT",))] == 8.0
    assert ("bybit_coin_value_usd", ("POPCAT",)) not in found  # no price: no made-up value
    assert found[("bybit_coin_wallet_balance", ("POPCAT",))] == 100.0


def test_funding_single_coin_form():
    found = values(funding, ok({"accountType": "FUND", "balance": {
        "coin": "USDT", "walletBalance": "12", "transferBalance": "12"}}))
    assert found[("bybit_coin_wallet_balance", ("USDT",))] == 12.0


def test_members_keep_big_uids_exact_and_skip_figures_bybit_could_not_compute():
    body = ('{"retCode":0,"result":{"total":"1","list":['
            '{"uid":9007199254740993,"isM":false,"stat":0,"origb":"10.5","items":[]},'
            '{"uid":"100","isM":true,"stat":0,"origb":"123456789012345678901234567890.5"},'
            '{"uid":"200","isM":false,"stat":1,"origb":"99"}]}}')
    found = values(members, json.loads(body))
    assert found[("bybit_member_equity_usd", ("9007199254740993",))] == 10.5
    assert found[("bybit_member_equity_usd", ("100",))] == pytest.approx(1.2345678901e29)
    assert ("bybit_member_equity_usd", ("200",)) not in found
