"""The translator on Bybit's documented and real responses, and on bad data."""

import json
from types import SimpleNamespace

import pytest

from exporter.bybit.answers import InvalidResponse
from exporter.bybit.endpoint import Context
from exporter.bybit.endpoints import wallet as wallet_endpoint
from tests.conftest import wallet_view

DOC_UNIFIED = json.loads('{"retCode":0,"retMsg":"OK","result":{"list":[{"totalEquity":"3.31216591","accountIMRate":"0","accountIMRateByMp":"0","totalMarginBalance":"3.00326056","totalInitialMargin":"0","totalInitialMarginByMp":"0","accountType":"UNIFIED","totalAvailableBalance":"3.00326056","accountMMRate":"0","accountMMRateByMp":"0","totalPerpUPL":"0","totalWalletBalance":"3.00326056","accountLTV":"0","totalMaintenanceMargin":"0","totalMaintenanceMarginByMp":"0","coin":[{"availableToBorrow":"3","bonus":"0","accruedInterest":"0","availableToWithdraw":"0","totalOrderIM":"0","equity":"0","totalPositionMM":"0","usdValue":"0","spotHedgingQty":"0.01592413","unrealisedPnl":"0","collateralSwitch":true,"borrowAmount":"0.0","totalPositionIM":"0","walletBalance":"0","cumRealisedPnl":"0","locked":"0","marginCollateral":true,"coin":"BTC","spotBorrow":"0"}]}]},"retExtInfo":{},"time":1690872862481}')
REAL_CONTRACT = json.loads('{"retCode":0,"retMsg":"OK","result":{"list":[{"totalEquity":"","accountIMRate":"","totalMarginBalance":"","totalInitialMargin":"","accountType":"CONTRACT","totalAvailableBalance":"","accountMMRate":"","totalPerpUPL":"","totalWalletBalance":"","accountLTV":"","totalMaintenanceMargin":"","coin":[{"availableToBorrow":"","bonus":"","accruedInterest":"","availableToWithdraw":"0.01","totalOrderIM":"0","equity":"0.01","totalPositionMM":"","usdValue":"","unrealisedPnl":"0","collateralSwitch":false,"spotHedgingQty":"0","borrowAmount":"","totalPositionIM":"0","walletBalance":"0.01","cumRealisedPnl":"0","locked":"","marginCollateral":false,"coin":"XRP"}]}]},"retExtInfo":{},"time":1708590899457}')


def translate(payload, account_type):
    """The wallet-balance translation seen as totals and coins."""
    translation = wallet_endpoint.translate([payload], Context({"account_type": account_type}))
    totals, coins = wallet_view(translation)
    return SimpleNamespace(totals=totals, coins=coins, unreadable=translation.unreadable)


def wallet(coins, account_type="UNIFIED", **totals):
    return {"retCode": 0, "result": {"list": [{"accountType": account_type, **totals,
                                               "coin": coins}]}}


def test_doc_unified_example():
    snap = translate(DOC_UNIFIED, "UNIFIED")
    assert snap.totals["bybit_account_equity_usd"] == pytest.approx(3.31216591)
    assert snap.totals["bybit_account_available_balance_usd"] == pytest.approx(3.00326056)
    assert snap.totals["bybit_account_maintenance_margin_ratio"] == 0.0
    assert snap.totals["bybit_account_maintenance_margin_by_mark_price_ratio"] == 0.0
    assert len(snap.totals) == 13  # every account field, the deprecated accountLTV skipped
    btc = snap.coins["BTC"]
    assert btc["bybit_coin_spot_hedging_quantity"] == pytest.approx(0.01592413)
    assert btc["bybit_coin_margin_collateral"] == 1.0
    assert btc["bybit_coin_collateral_enabled"] == 1.0
    assert btc["bybit_coin_borrow_amount"] == 0.0
    assert not any("available_to_borrow" in name for name in btc)


def test_real_contract_example_leaves_empty_strings_out_instead_of_zero():
    snap = translate(REAL_CONTRACT, "CONTRACT")
    assert snap.totals == {}
    xrp = snap.coins["XRP"]
    assert xrp["bybit_coin_equity"] == pytest.approx(0.01)
    assert xrp["bybit_coin_available_to_withdraw"] == pytest.approx(0.01)
    for absent in ("bybit_coin_value_usd", "bybit_coin_locked", "bybit_coin_borrow_amount",
                   "bybit_coin_position_maintenance_margin", "bybit_coin_bonus"):
        assert absent not in xrp
    assert xrp["bybit_coin_margin_collateral"] == 0.0


def test_negative_equity_of_a_borrowed_coin_is_kept_negative():
    snap = translate(wallet([{"coin": "SOL", "equity": "-40.5", "usdValue": "-5872.25",
                              "borrowAmount": "40.5"}]), "UNIFIED")
    assert snap.coins["SOL"]["bybit_coin_equity"] == -40.5
    assert snap.coins["SOL"]["bybit_coin_value_usd"] == -5872.25


def test_eighteen_decimal_zero_is_a_real_zero():
    snap = translate(wallet([{"coin": "USDT", "walletBalance": "0.000000000000000000"}],
                            totalEquity="0.000000000000000000"), "UNIFIED")
    assert snap.totals["bybit_account_equity_usd"] == 0.0
    assert snap.coins["USDT"]["bybit_coin_wallet_balance"] == 0.0


def test_empty_account_has_totals_and_no_coins():
    snap = translate(wallet([], totalEquity="0"), "UNIFIED")
    assert snap.coins == {}
    assert snap.totals == {"bybit_account_equity_usd": 0.0}


def test_unknown_fields_are_ignored():
    snap = translate(wallet([{"coin": "BTC", "equity": "1", "mmrSysUpdatedTime": "1",
                              "newThing": {"a": 1}}],
                            futureField=[1, 2], totalEquity="5"), "UNIFIED")
    assert snap.totals == {"bybit_account_equity_usd": 5.0}
    assert snap.coins["BTC"] == {"bybit_coin_equity": 1.0}
    assert snap.unreadable == ()


@pytest.mark.parametrize("value", ["-1", "0", "1", "2", 2])
def test_collateral_restriction_is_exported(value):
    snap = translate(wallet([{"coin": "BTC", "colRes": value}]), "UNIFIED")
    assert snap.coins["BTC"] == {"bybit_coin_collateral_restriction": float(value)}


@pytest.mark.parametrize("bad", ["abc", "NaN", "nan", "inf", "-Infinity", "1e999", "1,5", " 1",
                                 "0x10", "1_000", True, [], {}])
def test_a_garbage_number_loses_only_its_own_series(bad):
    snap = translate(wallet([{"coin": "BTC", "equity": bad, "walletBalance": "2"}],
                            totalEquity="5", accountMMRate="0.5"), "UNIFIED")
    assert snap.coins["BTC"] == {"bybit_coin_wallet_balance": 2.0}
    assert snap.totals["bybit_account_maintenance_margin_ratio"] == 0.5
    assert [u.where for u in snap.unreadable] == ["coin BTC equity"]
    assert snap.unreadable[0].preview == str(bad)[:40]
    snap = translate(wallet([], totalEquity=bad, accountMMRate="0.5"), "UNIFIED")
    assert snap.totals == {"bybit_account_maintenance_margin_ratio": 0.5}
    assert [u.where for u in snap.unreadable] == ["totalEquity"]


@pytest.mark.parametrize("payload", [
    None, [], {"retCode": 0}, {"retCode": 0, "result": None},
    {"retCode": 0, "result": {"list": []}}, {"retCode": 0, "result": {"list": [None]}},
    {"retCode": 0, "result": {"list": [{"accountType": "UNIFIED", "coin": "BTC"}]}},
    {"retCode": 0, "result": {"list": [{"accountType": "UNIFIED", "coin": [{"equity": "1"}]}]}},
    {"retCode": 0, "result": {"list": [{"accountType": "UNIFIED", "coin": [{"coin": ""}]}]}},
    {"retCode": 0, "result": {"list": [{"accountType": "UNIFIED", "coin": ["BTC"]}]}},
    {"retCode": 0, "result": {"list": [{"accountType": "SPOT", "coin": []}]}},
])
def test_malformed_shapes_are_invalid(payload):
    with pytest.raises(InvalidResponse):
        translate(payload, "UNIFIED")


def test_a_coin_listed_twice_is_invalid():
    with pytest.raises(InvalidResponse):
        translate(wallet([{"coin": "BTC", "equity": "1"}, {"coin": "BTC", "equity": "2"}]), "UNIFIED")


@pytest.mark.parametrize("spelling, value", [(True, 1.0), (False, 0.0), ("true", 1.0),
                                             ("false", 0.0), ("1", 1.0), ("0", 0.0)])
def test_a_flag_in_each_accepted_spelling(spelling, value):
    snap = translate(wallet([{"coin": "BTC", "marginCollateral": spelling,
                              "collateralSwitch": spelling}]), "UNIFIED")
    assert snap.coins["BTC"] == {"bybit_coin_margin_collateral": value,
                                 "bybit_coin_collateral_enabled": value}
    assert snap.unreadable == ()


@pytest.mark.parametrize("bad", ["yes", "TRUE1", 2, 0.5, {}, []])
def test_a_flag_that_is_not_one_is_an_unreadable_field(bad):
    snap = translate(wallet([{"coin": "BTC", "marginCollateral": bad, "equity": "1"}]), "UNIFIED")
    assert snap.coins["BTC"] == {"bybit_coin_equity": 1.0}
    assert [u.where for u in snap.unreadable] == ["coin BTC marginCollateral"]


# Bodies that Bybit client libraries publish in their own tests (flags as strings; an entry
# with totals and no coin array): the account stays up and every other value is exact.
FLAGS_AS_STRINGS = json.loads(json.dumps(DOC_UNIFIED).replace('"marginCollateral": true',
                                                               '"marginCollateral": "1"')
                              .replace('"collateralSwitch": true', '"collateralSwitch": "0"'))
NO_COIN_ARRAY = {"retCode": 0, "retMsg": "OK", "result": {"list": [{
    key: value for key, value in DOC_UNIFIED["result"]["list"][0].items() if key != "coin"}]}}


def test_flags_sent_as_strings_are_read():
    assert '"marginCollateral": "1"' in json.dumps(FLAGS_AS_STRINGS)
    expected = translate(DOC_UNIFIED, "UNIFIED")
    snap = translate(FLAGS_AS_STRINGS, "UNIFIED")
    assert snap.totals == expected.totals
    assert snap.coins["BTC"] == expected.coins["BTC"] | {"bybit_coin_collateral_enabled": 0.0}
    assert snap.unreadable == ()


def test_an_entry_without_a_coin_array_has_its_totals_and_no_coins():
    snap = translate(NO_COIN_ARRAY, "UNIFIED")
    assert snap.totals == translate(DOC_UNIFIED, "UNIFIED").totals
    assert snap.totals["bybit_account_maintenance_margin_ratio"] == 0.0
    assert snap.coins == {} and snap.unreadable == ()
