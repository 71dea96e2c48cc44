"""What stands between a position and its liquidation, as the translations read it: the
position's own stops, its ADL rank, status and restrictions; the open orders by kind and the
stop orders that would close each position; what borrowing costs; the fee tier."""

import json

import pytest

from exporter.bybit.answers import InvalidResponse
from exporter.bybit.endpoint import Context
from exporter.bybit.endpoints import api_key, borrowing, orders, positions
from tests.conftest import REPO


def ok(result):
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1}


def values(module, *payloads, wallet_coins=None):
    translation = module.translate(list(payloads), Context({}, {}, wallet_coins))
    return {(s.family.name, s.labels): s.value for s in translation.samples}


def unreadable(module, *payloads, wallet_coins=None):
    translation = module.translate(list(payloads), Context({}, {}, wallet_coins))
    return [item.where for item in translation.unreadable]


LONG = {"positionIdx": 0, "symbol": "BTCUSDT", "side": "Buy", "size": "0.5",
        "avgPrice": "64000", "markPrice": "60000", "liqPrice": "57000", "leverage": "5",
        "positionIM": "6400", "positionMM": "160", "positionValue": "32000",
        "unrealisedPnl": "-2000", "curRealisedPnl": "-12.5", "breakEvenPrice": "64070.4",
        "takeProfit": "0.00", "stopLoss": "0.00", "trailingStop": "0.00",
        "positionStatus": "Normal", "adlRankIndicator": 2, "isReduceOnly": False,
        "leverageSysUpdatedTime": "", "mmrSysUpdatedTime": ""}
LONG_LABELS = ("linear", "BTCUSDT", "Buy", "0")


def position(**changes):
    return values(positions, ok({"category": "linear", "list": [dict(LONG, **changes)]}))


def test_a_position_without_stops_has_no_stop_series_never_zero():
    found = position()
    for name in ("bybit_position_take_profit_price", "bybit_position_stop_loss_price",
                 "bybit_position_trailing_stop_distance", "bybit_position_forced_adjustment_"
                 "timestamp_seconds"):
        assert (name, LONG_LABELS) not in found, name
    assert found[("bybit_position_adl_rank", LONG_LABELS)] == 2.0
    assert found[("bybit_position_break_even_price", LONG_LABELS)] == 64070.4
    assert found[("bybit_position_realised_pnl", LONG_LABELS)] == -12.5
    assert found[("bybit_position_reduce_only", LONG_LABELS)] == 0.0


@pytest.mark.parametrize("none", ["", "0", "0.00", 0])
def test_every_way_bybit_says_none_is_no_stop(none):
    found = position(takeProfit=none, stopLoss=none, trailingStop=none)
    assert not any(name.endswith(("_take_profit_price", "_stop_loss_price", "_trailing_stop_"
                                  "distance")) for name, _ in found)


def test_the_positions_own_stops_are_exported():
    found = position(takeProfit="70000", stopLoss="58500.5", trailingStop="150")
    assert found[("bybit_position_take_profit_price", LONG_LABELS)] == 70000.0
    assert found[("bybit_position_stop_loss_price", LONG_LABELS)] == 58500.5
    assert found[("bybit_position_trailing_stop_distance", LONG_LABELS)] == 150.0


@pytest.mark.parametrize("rank, expected", [(0, None), ("0", None), (1, 1.0), ("5", 5.0)])
def test_adl_rank_is_absent_for_an_empty_rank(rank, expected):
    assert position(adlRankIndicator=rank).get(("bybit_position_adl_rank", LONG_LABELS)) == \
        expected


@pytest.mark.parametrize("status", ["Normal", "Liq", "Adl", "Frozen"])
def test_status_is_a_state_set_and_a_new_status_gets_its_own_value(status):
    found = position(positionStatus=status)
    states = {labels[-1]: value for (name, labels), value in found.items()
              if name == "bybit_position_status"}
    expected = dict.fromkeys(("Normal", "Liq", "Adl"), 0.0) | {status: 1.0}
    assert states == expected


def test_reduce_only_with_the_earlier_forced_adjustment():
    found = position(isReduceOnly=True, leverageSysUpdatedTime="1796515200000",
                     mmrSysUpdatedTime="1796511600000")
    assert found[("bybit_position_reduce_only", LONG_LABELS)] == 1.0
    assert found[("bybit_position_forced_adjustment_timestamp_seconds", LONG_LABELS)] == \
        1796511600.0


def test_the_misspelt_twin_of_mmr_sys_updated_time_is_read_too():
    found = position(isReduceOnly="true", mmrSysUpdatedTime=None,
                     mmrSysUpdateTime=1796511600000, leverageSysUpdatedTime="")
    assert found[("bybit_position_forced_adjustment_timestamp_seconds", LONG_LABELS)] == \
        1796511600.0


def test_forced_adjustment_times_are_absent_unless_reduce_only():
    found = position(isReduceOnly=False, leverageSysUpdatedTime="1796515200000")
    assert ("bybit_position_forced_adjustment_timestamp_seconds", LONG_LABELS) not in found


def test_reduce_only_is_absent_where_bybit_says_it_means_nothing():
    # portfolio margin (no leverage, no liquidation price) and options
    assert ("bybit_position_reduce_only", LONG_LABELS) not in position(leverage="", liqPrice="")
    option = dict(LONG, symbol="BTC-27DEC26-100000-C", leverage="", isReduceOnly=True)
    found = values(positions, ok({"category": "option", "list": [option]}))
    assert not any(name == "bybit_position_reduce_only" for name, _ in found)


def test_an_unreadable_stop_loses_only_its_own_series():
    payload = ok({"category": "linear", "list": [dict(LONG, stopLoss="soon")]})
    assert unreadable(positions, payload) == ["linear BTCUSDT stopLoss"]
    found = values(positions, payload)
    assert found[("bybit_position_size", LONG_LABELS)] == 0.5
    assert found[("bybit_position_liquidation_distance_ratio", LONG_LABELS)] == \
        pytest.approx(0.05)


# --- open orders --------------------------------------------------------------------------

def order(symbol="BTCUSDT", side="Sell", order_type="Market", stop="", leaves="0.1",
          reduce_only=True, close_on_trigger=False, index=0, **more):
    return {"orderId": f"{symbol}-{stop}-{index}-{leaves}", "symbol": symbol, "side": side,
            "orderType": order_type, "stopOrderType": stop, "leavesQty": leaves, "qty": leaves,
            "reduceOnly": reduce_only, "closeOnTrigger": close_on_trigger, "positionIdx": index,
            "orderStatus": "Untriggered" if stop else "New", "triggerPrice": "0.00", **more}


def orders_of(*rows, category="linear"):
    return values(orders, ok({"category": category, "nextPageCursor": "", "list": list(rows)}))


@pytest.mark.parametrize("stop, kind", [
    ("TakeProfit", "take_profit"), ("PartialTakeProfit", "take_profit"),
    ("StopLoss", "stop_loss"), ("PartialStopLoss", "stop_loss"),
    ("TrailingStop", "trailing_stop"), ("Stop", "conditional"), ("tpslOrder", "conditional"),
    ("MmRateClose", "conditional"), ("SomethingNew", "conditional"), ("", "market"),
    ("UNKNOWN", "market")])
def test_each_order_is_counted_under_its_kind(stop, kind):
    found = orders_of(order(stop=stop, leaves="0.25"), order(stop=stop, leaves="0.5"))
    labels = ("linear", "BTCUSDT", "Sell", kind)
    assert found[("bybit_open_orders", labels)] == 2.0
    assert found[("bybit_open_order_quantity", labels)] == 0.75


def test_plain_orders_by_side_and_type_across_pages_and_spot():
    first = ok({"category": "linear", "nextPageCursor": "c", "list": [
        order(side="Buy", order_type="Limit", reduce_only=False, leaves="1")]})
    second = ok({"category": "linear", "nextPageCursor": "", "list": [
        order(side="Buy", order_type="Limit", reduce_only=False, leaves="2")]})
    spot = ok({"category": "spot", "nextPageCursor": "", "list": [
        order(symbol="ETHUSDT", side="Sell", order_type="Limit", leaves="0.4",
              reduce_only=False)]})
    found = values(orders, first, second, spot)
    assert found[("bybit_open_orders", ("linear", "BTCUSDT", "Buy", "limit"))] == 2.0
    assert found[("bybit_open_order_quantity", ("linear", "BTCUSDT", "Buy", "limit"))] == 3.0
    assert found[("bybit_open_orders", ("spot", "ETHUSDT", "Sell", "limit"))] == 1.0
    assert not any(name == "bybit_position_stop_order_quantity" for name, _ in found)


def stops(found):
    return {labels: value for (name, labels), value in found.items()
            if name == "bybit_position_stop_order_quantity"}


def test_stop_orders_are_labelled_like_the_position_they_close():
    found = orders_of(
        order(side="Sell", stop="StopLoss", leaves="0.2", index=0),  # closes a one-way long
        order(side="Sell", stop="PartialStopLoss", leaves="0.05", index=0),
        order(symbol="ETHUSDT", side="Buy", stop="TrailingStop", leaves="3", index=0,
              reduce_only=False, close_on_trigger=True),  # closes a one-way short
        order(side="Sell", stop="StopLoss", leaves="0.3", index=1),  # hedge mode: the long
        order(side="Buy", stop="StopLoss", leaves="0.1", index=2),  # hedge mode: the short
        order(side="Sell", stop="TakeProfit", leaves="9", index=0),  # no stop: not counted
    )
    assert stops(found) == {("linear", "BTCUSDT", "Buy", "0"): pytest.approx(0.25),
                            ("linear", "ETHUSDT", "Sell", "0"): 3.0,
                            ("linear", "BTCUSDT", "Buy", "1"): 0.3,
                            ("linear", "BTCUSDT", "Sell", "2"): 0.1}


def test_a_stop_that_could_open_a_position_covers_nothing():
    found = orders_of(order(stop="StopLoss", reduce_only=False, close_on_trigger=False))
    assert stops(found) == {("linear", "BTCUSDT", "Buy", "0"): 0.0}


def test_a_stop_whose_flags_cannot_be_read_leaves_its_positions_coverage_unknown():
    payload = ok({"category": "linear", "list": [
        order(stop="StopLoss", leaves="0.2"),
        order(stop="StopLoss", leaves="0.3", reduce_only="perhaps", close_on_trigger=False)]})
    assert stops(values(orders, payload)) == {}
    assert unreadable(orders, payload) == ["linear BTCUSDT order reduceOnly"]
    assert values(orders, payload)[("bybit_open_orders",
                                    ("linear", "BTCUSDT", "Sell", "stop_loss"))] == 2.0


def test_an_unreadable_quantity_loses_only_its_groups_quantity():
    found = orders_of(order(stop="StopLoss", leaves="x"), order(stop="StopLoss", leaves="1"),
                      order(order_type="Limit", leaves="2", reduce_only=False))
    assert ("bybit_open_order_quantity", ("linear", "BTCUSDT", "Sell", "stop_loss")) \
        not in found
    assert found[("bybit_open_orders", ("linear", "BTCUSDT", "Sell", "stop_loss"))] == 2.0
    assert found[("bybit_open_order_quantity", ("linear", "BTCUSDT", "Sell", "limit"))] == 2.0


def test_an_order_that_cannot_be_placed_leaves_its_symbol_unknown_not_undercounted():
    found = orders_of(order(side=""), order(side="Sell"),
                      order(symbol="ETHUSDT", side="Buy", order_type="Limit"))
    assert not any(labels[1] == "BTCUSDT" for _, labels in found)
    assert found[("bybit_open_orders", ("linear", "ETHUSDT", "Buy", "limit"))] == 1.0


@pytest.mark.parametrize("result", [
    {"list": [order()]},  # no category
    {"category": "linear", "list": [order(symbol="")]},
    {"category": "linear", "list": {"symbol": "BTCUSDT"}},
])
def test_orders_of_the_wrong_shape_are_refused(result):
    with pytest.raises(InvalidResponse):
        orders.translate([ok(result)], Context({}))


# --- borrowing ----------------------------------------------------------------------------

def coin(currency, borrow="0", rate="0.00000147", usage="0.2"):
    return {"currency": currency, "hourlyBorrowRate": rate, "maxBorrowingAmount": "1000",
            "availableToBorrow": "800", "freeBorrowingLimit": "0", "freeBorrowAmount": "0",
            "borrowAmount": borrow, "otherBorrowAmount": "0", "borrowable": True,
            "borrowUsageRate": usage, "marginCollateral": True, "collateralSwitch": True,
            "collateralRatio": "0.95", "freeBorrowingAmount": ""}


def test_borrowing_exports_the_wallets_coins_and_borrowed_ones_only():
    payload = ok({"list": [coin("BTC"), coin("SOL", borrow="40", rate="0.0000513"),
                           coin("DOGE"), coin("USDT", rate="junk")]})
    found = values(borrowing, payload, wallet_coins=frozenset({"BTC", "USDT"}))
    assert {labels[0] for _, labels in found} == {"BTC", "SOL", "USDT"}
    assert found[("bybit_coin_hourly_borrow_rate", ("SOL",))] == 0.0000513
    assert found[("bybit_coin_borrow_usage_ratio", ("BTC",))] == 0.2
    assert found[("bybit_coin_max_borrowing_amount", ("BTC",))] == 1000.0
    assert ("bybit_coin_hourly_borrow_rate", ("USDT",)) not in found
    assert found[("bybit_coin_available_to_borrow", ("USDT",))] == 800.0


def test_borrowing_without_the_wallets_coins_exports_what_is_borrowed():
    payload = ok({"list": [coin("BTC"), coin("SOL", borrow="40")]})
    assert {labels for _, labels in values(borrowing, payload)} == {("SOL",)}


def test_a_coin_nobody_holds_is_not_read_however_odd_it_is():
    payload = ok({"list": [coin("BTC"), {"currency": ["?"], "hourlyBorrowRate": {}},
                           coin("ODD", rate="junk")]})
    assert unreadable(borrowing, payload, wallet_coins=frozenset({"BTC"})) == []
    with pytest.raises(InvalidResponse):
        borrowing.translate([ok({"list": [coin("BTC"), coin("BTC")]})],
                            Context({}, {}, frozenset({"BTC"})))


# --- fee tier -----------------------------------------------------------------------------

def test_the_fee_tier_is_an_info_series():
    found = values(api_key, ok({"readOnly": 1, "ips": ["*"], "expiredAt": "", "vipLevel": "VIP-2",
                                "mktMakerLevel": "0"}))
    assert found[("bybit_account_vip_info", ("VIP-2", "0"))] == 1.0
    found = values(api_key, ok({"readOnly": 1, "ips": ["*"], "vipLevel": "No VIP"}))
    assert not any(name == "bybit_account_vip_info" for name, _ in found)


# --- the documented and published answers (tests/fixtures/answers/README.md) --------------

def fixture(name):
    return json.loads((REPO / "tests" / "fixtures" / "answers" / name).read_text())


def test_the_documented_inverse_position_with_its_misspelt_twin_and_no_stops():
    found = values(positions, fixture("position_list_docs.json"))
    labels = ("inverse", "BTCUSD", "Sell", "0")
    assert found[("bybit_position_adl_rank", labels)] == 2.0
    assert found[("bybit_position_status", (*labels, "Normal"))] == 1.0
    assert found[("bybit_position_status", (*labels, "Liq"))] == 0.0
    assert found[("bybit_position_reduce_only", labels)] == 0.0
    assert found[("bybit_position_realised_pnl", labels)] == 0.00013123
    assert found[("bybit_position_break_even_price", labels)] == 93556.73034991
    for name in ("take_profit_price", "stop_loss_price", "trailing_stop_distance"):
        assert (f"bybit_position_{name}", labels) not in found


def test_captured_option_rows_send_empty_stops_and_no_leverage():
    """2025 option rows: "" for takeProfit, stopLoss, trailingStop, leverage and liqPrice;
    their ADL rank 0; realised PnL in curRealisedPnl."""
    rows = fixture("position_option_rows_2025_captured.json")
    payload = ok({"category": "option", "nextPageCursor": "", "list": rows})
    assert unreadable(positions, payload) == []
    found = values(positions, payload)
    labels = ("option", "ETH-6AUG25-3525-P-USDT", "Buy", "0")
    assert found[("bybit_position_realised_pnl", labels)] == -0.0427
    names = {name for name, found_labels in found if found_labels[:4] == labels}
    assert not names & {"bybit_position_take_profit_price", "bybit_position_stop_loss_price",
                        "bybit_position_trailing_stop_distance", "bybit_position_leverage",
                        "bybit_position_adl_rank", "bybit_position_reduce_only",
                        "bybit_position_liquidation_distance_ratio"}


def test_the_documented_open_order_is_a_limit_order_and_no_stop():
    found = values(orders, fixture("order_realtime_docs.json"))
    labels = ("linear", "ETHUSDT", "Buy", "limit")  # stopOrderType "UNKNOWN": a plain order
    assert found == {("bybit_open_orders", labels): 1.0,
                     ("bybit_open_order_quantity", labels): 0.1}


def open_ones(messages):
    """The orders of captured WebSocket messages that REST would list as open."""
    rows = [order for message in messages for order in message.get("data", [message])]
    return [row for row in rows if row["orderStatus"] in ("New", "PartiallyFilled", "Untriggered")]


def test_captured_tp_sl_orders_of_a_position_cover_it():
    """Bybit makes a position's own TP/SL into Untriggered reduce-only, close-on-trigger
    orders of the position's size (a 2025 linear short and a 2023 inverse short)."""
    linear = open_ones(fixture("ws_order_linear_tpsl_lifecycle_captured.json"))
    inverse = open_ones([fixture("ws_order_inverse_stoploss_kuegibot_captured.json")])
    found = values(orders, ok({"category": "linear", "list": linear}),
                   ok({"category": "inverse", "list": inverse}))
    assert stops(found) == {("linear", "BTCUSDT", "Sell", "0"): 0.001,
                            ("inverse", "BTCUSD", "Sell", "0"): 10.0}
    assert found[("bybit_open_orders", ("linear", "BTCUSDT", "Buy", "take_profit"))] == 1.0
    assert found[("bybit_open_orders", ("linear", "BTCUSDT", "Sell", "limit"))] == 1.0


def test_the_documented_collateral_info():
    found = values(borrowing, fixture("collateral_info_docs.json"),
                   wallet_coins=frozenset({"BTC"}))
    assert found == {("bybit_coin_hourly_borrow_rate", ("BTC",)): 0.00000147,
                     ("bybit_coin_borrow_usage_ratio", ("BTC",)): 0.0,
                     ("bybit_coin_free_borrowing_limit", ("BTC",)): 0.0,
                     ("bybit_coin_free_borrow_amount", ("BTC",)): 0.0,
                     ("bybit_coin_available_to_borrow", ("BTC",)): 3.0,
                     ("bybit_coin_max_borrowing_amount", ("BTC",)): 3.0}


def test_the_documented_key_has_its_fee_tier():
    found = values(api_key, fixture("user_query_api_docs.json"))
    assert found[("bybit_account_vip_info", ("PRO-1", "0"))] == 1.0
