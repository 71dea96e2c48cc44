"""Options desks: option positions with their greeks and expiry, the account's greeks per base
coin and option margin, market-maker protection; against the documented and captured answers,
and against the simulator over HTTP."""

import json
import logging
import time

import pytest

from exporter.bybit.answers import InvalidResponse
from exporter.bybit.budget import RequestBudget
from exporter.bybit.endpoint import Context
from exporter.bybit.endpoints import mmp, options, positions
from exporter.bybit.instruments import ExpiryBook
from exporter.config import load_text
from exporter.service.account import AccountRunner, Hosts, Shared
from exporter.service.poller import no_prices
from exporter.service.scheduling import PollScheduler
from exporter.service.store import Store
from exporter.simulator import Holding, SimAccount, calm_rate, unified_wallet
from exporter.simulator.options import Mmp, OptionPosition
from tests.conftest import REPO


def ok(result):
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1}


def fixture(name):
    return json.loads((REPO / "tests" / "fixtures" / "answers" / name).read_text())


def values(module, *payloads, **context):
    translation = module.translate(list(payloads), Context({}, **context))
    return {(s.family.name, s.labels): s.value for s in translation.samples}


ETH_PUT = ("option", "ETH-6AUG25-3525-P-USDT", "Buy", "0")


def test_captured_option_rows_give_greeks_for_the_positions_size():
    rows = fixture("position_option_rows_2025_captured.json")
    found = values(positions, ok({"category": "option", "nextPageCursor": "", "list": rows}))
    assert found[("bybit_position_delta", ETH_PUT)] == -0.010189780  # size 0.1
    assert found[("bybit_position_gamma", ETH_PUT)] == 0.000131746
    assert found[("bybit_position_vega", ETH_PUT)] == 0.032370268
    assert found[("bybit_position_theta", ETH_PUT)] == -1.075580960
    assert found[("bybit_position_size", ETH_PUT)] == 0.1
    assert found[("bybit_position_unrealised_pnl", ETH_PUT)] == -0.01635484
    assert found[("bybit_position_initial_margin", ETH_PUT)] == 0.0  # a bought option: "0"
    for absent in ("leverage", "liquidation_price", "liquidation_distance_ratio"):
        assert (f"bybit_position_{absent}", ETH_PUT) not in found, absent  # "" in options


def test_a_2023_option_row_without_greeks_has_no_greek_series_never_zero():
    row = fixture("position_rows_2023_captured.json")[2]
    found = values(positions, ok({"category": "option", "list": [row]}))
    labels = ("option", "BTC-14JUL23-30500-C", "Buy", "0")
    assert found[("bybit_position_size", labels)] == 0.01
    assert not any(name.endswith(("_delta", "_gamma", "_vega", "_theta")) for name, _ in found)


def test_expiry_comes_from_the_instruments_info_for_what_can_expire():
    rows = fixture("position_option_rows_2025_captured.json")
    payload = ok({"category": "option", "list": rows})
    assert positions.instruments([payload]) == {("option", "ETH-6AUG25-3525-P-USDT"),
                                                 ("option", "SOL-16JUL25-155-P-USDT")}
    found = values(positions, payload,
                   expiries={("option", "ETH-6AUG25-3525-P-USDT"): 1754467200.0})
    assert found[("bybit_position_expiry_timestamp_seconds", ETH_PUT)] == 1754467200.0
    assert ("bybit_position_expiry_timestamp_seconds",
            ("option", "SOL-16JUL25-155-P-USDT", "Buy", "0")) not in found
    assert positions.instruments([{"result": "broken"}, None]) == set()


def test_the_documented_coin_greeks_and_option_asset_info():
    found = values(options, fixture("coin_greeks_docs.json"),
                   fixture("option_asset_info_docs.json"))
    assert found == {
        ("bybit_greeks_delta", ("BTC",)): 0.00004001, ("bybit_greeks_gamma", ("BTC",)): -9e-08,
        ("bybit_greeks_vega", ("BTC",)): -0.00039689, ("bybit_greeks_theta", ("BTC",)): 0.01243824,
        ("bybit_option_delta", ("BTC",)): 0.0118, ("bybit_option_realised_pnl", ("BTC",)): -0.279,
        ("bybit_option_unrealised_pnl", ("BTC",)): -47.6318,
        ("bybit_option_initial_margin", ("BTC",)): 0.0,
        ("bybit_option_maintenance_margin", ("BTC",)): 0.0}
    assert options.greeks_held(fixture("coin_greeks_docs.json")) == {"BTC"}
    assert options.greeks_held(ok({"list": [{"baseCoin": "ETH", "totalDelta": "0",
                                              "totalGamma": "0.000", "totalVega": "",
                                              "totalTheta": "0"}]})) == set()
    with pytest.raises(InvalidResponse):
        options.translate([ok({"rows": []})], Context({}))


def mmp_values(*pairs):
    queries = tuple(mmp.query_of(coin) for coin, _ in pairs)
    return values(mmp, *(payload for _, payload in pairs), queries=queries)


def test_the_documented_mmp_state():
    found = mmp_values(("BTC", fixture("mmp_state_docs.json")))
    assert found == {("bybit_mmp_enabled", ("BTC",)): 1.0, ("bybit_mmp_frozen", ("BTC",)): 0.0,
                     ("bybit_mmp_window_seconds", ("BTC",)): 5.0,
                     ("bybit_mmp_frozen_period_seconds", ("BTC",)): 100.0,
                     ("bybit_mmp_quantity_limit", ("BTC",)): 0.01,
                     ("bybit_mmp_delta_limit", ("BTC",)): 0.01,
                     ("bybit_mmp_vega_limit", ("BTC",)): 500000.0}  # not frozen: no until


def test_a_frozen_coin_says_until_when_and_no_mmp_is_disabled_not_a_failure():
    frozen = fixture("mmp_state_docs.json")
    frozen["result"]["result"][0].update(mmpFrozen=True, baseCoin="ETH")
    no_mmp = {"retCode": 110065, "retMsg": "MMP hasn't yet been enabled", "result": {}}
    found = mmp_values(("ETH", frozen), ("SOL", ok({"result": []})), ("BTC", no_mmp))
    assert found[("bybit_mmp_frozen", ("ETH",))] == 1.0
    assert found[("bybit_mmp_frozen_until_timestamp_seconds", ("ETH",))] == 1675760625.519
    assert found[("bybit_mmp_enabled", ("SOL",))] == 0.0
    assert found[("bybit_mmp_enabled", ("BTC",))] == 0.0
    assert {labels for _, labels in found} == {("ETH",), ("SOL",), ("BTC",)}


# --- against the simulator ----------------------------------------------------------------

def option(symbol, side="Buy", size=1.0, delta=0.4, greeks=True):
    return OptionPosition(symbol, side, size, 100.0, lambda t: 110.0, lambda t: delta,
                          greeks=greeks)


def desk(key="K1", books=(), mmp_coins=None):
    wallet = unified_wallet([Holding("USDC", 50000, 1.0, swing=0.0)], calm_rate)
    return SimAccount(api_key=key, secret="S1", wallets={"UNIFIED": wallet},
                      options=list(books), mmp=mmp_coins)


def runner(sim_url, store, collect="wallet, positions, options, mmp", interval="30s",
           expiries=None):
    config = load_text(f"""
poll_interval: {interval}
collect: [{collect}]
accounts:
  - {{name: desk, api_key: K1, api_secret: S1, endpoint: "{sim_url}"}}
""")
    account = config.accounts[0]
    shared = Shared(RequestBudget(), store, PollScheduler(1), Hosts(), no_prices, 5.0,
                    expiries=expiries.expiries if expiries else lambda *_: {})
    result = AccountRunner(account, {c: 30.0 for c in account.collect}, shared)
    store.set_targets(result.targets())
    return result


def calls(account, path, since=0):
    return [query for called, query in account.calls[since:] if called == path]


def poll(run, *names):
    for name in names:
        run.pollers[name].poll()


def test_options_and_mmp_are_asked_every_poll_while_options_are_held(simulator):
    account = desk(books=[option("BTC-27DEC26-100000-C"), option("ETH-26DEC26-4000-P-USDT")],
                   mmp_coins={"BTC": Mmp()})  # MMP on BTC; ETH has none: an empty list
    sim = simulator([account])
    store = Store(stale_after=300)
    run = runner(sim.url, store)
    try:
        poll(run, "wallet", "positions")  # a start: margin data first, the greeks right after
        assert positions.OPTION not in calls(account, "/v5/position/list")
        poll(run, "options", "mmp")
        assert sorted(calls(account, "/v5/account/mmp-state")) == ["baseCoin=BTC", "baseCoin=ETH"]
        for _ in range(2):  # the greeks say options are held: every poll asks for them
            mark = len(account.calls)
            poll(run, "wallet", "positions", "options", "mmp")
            assert calls(account, "/v5/position/list", mark).count(positions.OPTION) == 1
            assert calls(account, options.GREEKS_PATH, mark) == [""]
            assert calls(account, options.ASSETS_PATH, mark) == [""]
            assert sorted(calls(account, "/v5/account/mmp-state", mark)) == [
                "baseCoin=BTC", "baseCoin=ETH"]
        found = store_values(store)
        symbols = {labels[1] for (_, name, labels) in found if name == "bybit_position_delta"}
        assert symbols == {"BTC-27DEC26-100000-C", "ETH-26DEC26-4000-P-USDT"}
        assert found[("mmp", "bybit_mmp_enabled", ("BTC",))] == 1.0
        assert found[("mmp", "bybit_mmp_enabled", ("ETH",))] == 0.0  # none on ETH
    finally:
        run.client.close()


def test_an_options_account_without_mmp_has_it_disabled_not_failing(simulator):
    account = desk(books=[option("BTC-27DEC26-100000-C")], mmp_coins=None)  # 110065
    sim = simulator([account])
    store = Store(stale_after=300)
    run = runner(sim.url, store)
    try:
        poll(run, "wallet", "positions", "options", "mmp")
        assert calls(account, "/v5/account/mmp-state") == ["baseCoin=BTC"]
        assert store_values(store, ("mmp",)) == {("mmp", "bybit_mmp_enabled", ("BTC",)): 0.0}
        [state] = [s for s in store.states() if s.key.collector == "mmp"]
        assert state.up and state.failure_reason is None
    finally:
        run.client.close()


def test_without_the_options_collector_the_first_positions_poll_asks_for_options(simulator):
    account = desk(books=[option("SOL-16JUL25-155-P-USDT")])
    sim = simulator([account])
    store = Store(stale_after=300)
    run = runner(sim.url, store, collect="wallet, positions")
    try:
        poll(run, "wallet", "positions")
        assert calls(account, "/v5/position/list").count(positions.OPTION) == 1
        assert ("positions", "bybit_position_size",
                ("option", "SOL-16JUL25-155-P-USDT", "Buy", "0")) in store_values(store)
    finally:
        run.client.close()


def test_without_options_the_option_calls_come_every_5_minutes_and_values_stay(simulator):
    account = desk(mmp_coins=None)  # no options, no MMP
    sim = simulator([account])
    store = Store(stale_after=3600)
    run = runner(sim.url, store)
    now = [1000.0]
    for poller in run.pollers.values():
        poller.monotonic = lambda: now[0]
    for chooser in (run.pollers["positions"].choose, run.pollers["options"].choose,
                    run.pollers["mmp"].choose):
        chooser.monotonic = lambda: now[0]
    try:
        poll(run, "wallet", "positions", "options", "mmp")  # the greeks at once; no MMP to ask
        assert len(calls(account, options.GREEKS_PATH)) == 1
        assert calls(account, "/v5/account/mmp-state") == []  # no base coin holds options
        first = store_values(store, ("options", "mmp"))
        assert first == {}  # no greeks, no option margin, no MMP: nothing, never 0
        mark = len(account.calls)
        for _ in range(4):  # two minutes of polls: nothing asked, what was answered stands
            now[0] += 30
            poll(run, "wallet", "positions", "options", "mmp")
        assert positions.OPTION not in calls(account, "/v5/position/list", mark)
        assert calls(account, options.GREEKS_PATH, mark) == []
        assert calls(account, "/v5/account/mmp-state", mark) == []
        assert store_values(store, ("options", "mmp")) == first
        now[0] += 300
        poll(run, "wallet", "positions", "options", "mmp")
        assert calls(account, "/v5/position/list", mark).count(positions.OPTION) == 1
        assert len(calls(account, options.GREEKS_PATH, mark)) == 1
        assert calls(account, "/v5/account/mmp-state", mark) == []
        assert all(state.up for state in store.states() if state.key.collector == "mmp")
    finally:
        run.client.close()


def test_an_option_bought_later_shows_within_five_minutes(simulator):
    account = desk()
    sim = simulator([account])
    store = Store(stale_after=3600)
    run = runner(sim.url, store, collect="wallet, positions, options")
    now = [1000.0]
    for poller in run.pollers.values():
        poller.monotonic = lambda: now[0]
    for name in ("positions", "options"):
        run.pollers[name].choose.monotonic = lambda: now[0]
    bought = ("positions", "bybit_position_size", ("option", "BTC-27DEC26-100000-C", "Buy", "0"))
    try:
        poll(run, "wallet", "positions", "options")
        account.options.append(option("BTC-27DEC26-100000-C"))
        for _ in range(9):
            now[0] += 30
            poll(run, "wallet", "positions", "options")
            assert bought not in store_values(store)  # nothing says so yet
        now[0] += 30  # 5 minutes after the first poll: the option query and the greeks
        poll(run, "wallet", "positions", "options")
        assert bought in store_values(store)
        mark = len(account.calls)
        now[0] += 30  # held now: asked every poll
        poll(run, "wallet", "positions", "options")
        assert positions.OPTION in calls(account, "/v5/position/list", mark)
    finally:
        run.client.close()


def store_values(store, collectors=("positions", "options", "mmp")):
    return {(state.key.collector, s.family.name, s.labels): s.value
            for state in store.states() if state.translation
            and state.key.collector in collectors for s in state.translation.samples}


def test_expiries_are_fetched_beside_the_polls_per_host_and_base_coin(simulator, caplog):
    account = desk(books=[option("SOL-16JUL25-155-P-USDT"), option("BTC-27DEC26-100000-C")])
    sim = simulator([account])
    book = ExpiryBook(RequestBudget(), timeout=5.0)
    store = Store(stale_after=300)
    run = runner(sim.url, store, collect="wallet, positions", expiries=book)
    try:
        poll(run, "wallet", "positions")  # the listings are fetched beside this poll
        book.settle(5.0)
        assert sorted(query for _, query in sim.public_calls) == [
            "category=option&limit=1000&baseCoin=BTC", "category=option&limit=1000&baseCoin=SOL"]
        poll(run, "positions")
        expiry = {labels[1]: value for (_, name, labels), value in store_values(store).items()
                  if name == "bybit_position_expiry_timestamp_seconds"}
        assert expiry == {"SOL-16JUL25-155-P-USDT": 1752652800.0,
                          "BTC-27DEC26-100000-C": 1798358400.0}
        for _ in range(3):
            poll(run, "positions")
        book.settle(5.0)
        assert len(sim.public_calls) == 2  # an hour's listings, shared, not asked again
    finally:
        run.client.close()


def test_a_failing_listing_costs_the_expiry_only_and_never_holds_a_poll(caplog):
    book = ExpiryBook(RequestBudget(), timeout=0.5)
    started = time.monotonic()
    assert book.expiries("http://127.0.0.1:9", [("option", "BTC-27DEC26-100000-C")]) == {}
    assert time.monotonic() - started < 0.2  # the fetch runs beside the poll
    with caplog.at_level(logging.WARNING):
        book.settle(5.0)
    assert "instruments info unavailable" in caplog.text
    assert book.expiries("http://127.0.0.1:9", [("option", "BTC-27DEC26-100000-C")]) == {}
    book.settle(5.0)
