"""Polls recorded in the store and rendered by the collector, against the simulator."""

import logging

from prometheus_client import generate_latest

from benchmarks.stock import build_registry
from exporter.bybit.endpoints import wallet
from exporter.service.poller import Poller
from exporter.service.store import Store, TargetKey, TargetSpec
from exporter.simulator import Holding, SimAccount, classic_wallet
from tests.conftest import parse_samples, sample, unified_account
from tests.faults import FaultySimulator, faulty
from tests.test_client import make_client


class FakeClock:
    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def wallet_targets(account_name, *types, interval=1.0):
    return {TargetKey(account_name, "wallet", (("account_type", t),)):
            TargetSpec(wallet.ENDPOINT.health, interval, (("account_type", t),)) for t in types}


def poller_for(sim, store, monotonic=None, **client_args):
    client = make_client(sim.url, **client_args)
    store.set_targets(wallet_targets(client.account.name, *client.account.account_types))
    kwargs = {"monotonic": monotonic} if monotonic else {}
    return Poller(wallet.ENDPOINT, client, store, client.account.poll_interval, **kwargs)


def scrape(store):
    return parse_samples(generate_latest(build_registry(store)).decode())


def test_success_is_exported_with_labels(simulator):
    sim = simulator([unified_account("K1", "S1")])
    store = Store(stale_after=60)
    poller_for(sim, store).poll()
    samples = scrape(store)
    assert sample(samples, "bybit_up", account="a", account_type="UNIFIED") == 1.0
    assert sample(samples, "bybit_coin_wallet_balance", account="a", account_type="UNIFIED",
                  coin="BTC") == 1.5
    assert sample(samples, "bybit_account_maintenance_margin_ratio", account="a",
                  account_type="UNIFIED") < 0.1
    assert sample(samples, "bybit_poll_errors_total", account="a", account_type="UNIFIED",
                  reason="auth") == 0.0


def test_a_coin_that_disappears_is_gone_from_metrics(simulator):
    account = unified_account("K1", "S1")
    sim = simulator([account])
    store = Store(stale_after=60)
    poller = poller_for(sim, store)
    poller.poll()
    labels = dict(account="a", account_type="UNIFIED", coin="ETH")
    assert sample(scrape(store), "bybit_coin_equity", **labels) == 2.0
    account.hidden_coins.add("ETH")
    poller.poll()
    samples = scrape(store)
    assert sample(samples, "bybit_coin_equity", **labels) is None
    assert not any(("coin", "ETH") in key[1] for key in samples)
    assert sample(samples, "bybit_coin_equity", account="a", account_type="UNIFIED", coin="BTC")


def test_classic_wallet_empty_strings_are_absent_not_zero(simulator):
    sim = simulator([SimAccount(api_key="K1", secret="S1", wallets={
        "CONTRACT": classic_wallet("CONTRACT", [Holding("XRP", 100, 0.5)])})])
    store = Store(stale_after=60)
    poller_for(sim, store, types=("CONTRACT",)).poll()
    samples = scrape(store)
    assert sample(samples, "bybit_up", account="a", account_type="CONTRACT") == 1.0
    assert not any(key[0].startswith("bybit_account_") for key in samples)
    labels = dict(account="a", account_type="CONTRACT", coin="XRP")
    assert sample(samples, "bybit_coin_value_usd", **labels) is None
    assert sample(samples, "bybit_coin_wallet_balance", **labels) > 0


def test_auth_failure_marks_every_type_down_and_backs_off(simulator, caplog):
    account = SimAccount(api_key="K1", secret="S1", wallets={
        "SPOT": classic_wallet("SPOT", [Holding("BTC", 1, 1)]),
        "CONTRACT": classic_wallet("CONTRACT", [Holding("BTC", 1, 1)])})
    sim = simulator([account])
    store = Store(stale_after=600)
    clock = FakeClock(0.0)
    poller = poller_for(sim, store, monotonic=clock, types=("SPOT", "CONTRACT"))
    poller.poll()
    account.revoked = True
    requests_before = account.requests
    with caplog.at_level(logging.DEBUG, logger="exporter"):
        poller.poll()
    assert account.requests == requests_before + 1  # CONTRACT was not tried with a dead key
    samples = scrape(store)
    for account_type in ("SPOT", "CONTRACT"):
        assert sample(samples, "bybit_up", account="a", account_type=account_type) == 0.0
        assert sample(samples, "bybit_poll_errors_total", account="a", account_type=account_type,
                      reason="auth") == 1.0
    assert poller.not_before == 2.0  # two poll intervals (1 s) after the first auth failure
    for _ in range(5):
        poller.poll()
    assert account.requests == requests_before + 1  # backed off, not hammered
    clock.now = 2.5
    poller.poll()
    assert poller.not_before == 2.5 + 4.0  # then four intervals, eight, ... at most 10 minutes
    for _ in range(3, 20):
        clock.now = poller.not_before
        poller.poll()
    assert poller.not_before - clock.now == 600.0
    clock.now = poller.not_before
    account.revoked = False
    poller.poll()
    samples = scrape(store)
    assert sample(samples, "bybit_up", account="a", account_type="CONTRACT") == 1.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.fields["reason"] for r in warnings] == ["auth", "auth"]  # once per type
    assert "K1" not in caplog.text and "S1" not in caplog.text


def test_failures_are_logged_once_per_change(simulator, caplog):
    sim = simulator([SimAccount(api_key="K1", secret="S1", wallets={})])
    store = Store(stale_after=60)
    poller = poller_for(sim, store)
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(3):
            poller.poll()
    failures = [r for r in caplog.records if r.getMessage() == "poll failed"]
    assert len(failures) == 1
    assert failures[0].fields["reason"] == "api" and failures[0].fields["ret_code"] == 10001
    assert sample(scrape(store), "bybit_poll_errors_total", account="a", account_type="UNIFIED",
                  reason="api") == 3.0


def test_last_values_are_served_until_stale_after_then_dropped(simulator):
    account = unified_account("K1", "S1")
    sim = simulator([account])
    clock = FakeClock()
    store = Store(stale_after=300, clock=clock)
    poller = poller_for(sim, store)
    poller.poll()
    first_success = clock.now
    account.wallets = {}
    clock.now += 299
    poller.poll()
    samples = scrape(store)
    labels = dict(account="a", account_type="UNIFIED")
    assert sample(samples, "bybit_up", **labels) == 0.0
    assert sample(samples, "bybit_account_equity_usd", **labels) is not None
    clock.now += 2
    samples = scrape(store)
    assert sample(samples, "bybit_account_equity_usd", **labels) is None
    assert not any(key[0].startswith("bybit_coin_") for key in samples)
    assert sample(samples, "bybit_up", **labels) == 0.0
    assert sample(samples, "bybit_last_success_timestamp_seconds", **labels) == first_success


def test_ready_only_after_every_target_was_attempted(simulator):
    sim = simulator([unified_account("K1", "S1")])
    store = Store(stale_after=60)
    poller = poller_for(sim, store)
    store.set_targets(wallet_targets("a", "UNIFIED") | wallet_targets("b", "UNIFIED"))
    poller.poll()
    assert not store.ready()
    store.set_targets(wallet_targets("a", "UNIFIED"))
    assert store.ready()


def test_ip_ban_waits_bybits_ten_minutes_then_recovers_by_itself():
    account = faulty(unified_account("K1", "S1"))
    sim = FaultySimulator([account]).start()
    store = Store(stale_after=3600)
    clock = FakeClock(0.0)
    poller = poller_for(sim, store, monotonic=clock)
    account.fault = "ip_ban"
    poller.poll()
    labels = dict(account="a", account_type="UNIFIED")
    assert sample(scrape(store), "bybit_poll_errors_total", reason="rate_limit", **labels) == 1.0
    assert poller.not_before == 600.0
    account.fault = None
    sent = account.requests
    clock.now = 599.0
    poller.poll()
    assert account.requests == sent
    clock.now = 600.0
    poller.poll()
    sim.stop()
    assert sample(scrape(store), "bybit_up", **labels) == 1.0


def test_an_unreadable_field_is_counted_and_logged_once_per_change(simulator, caplog):
    healthy = unified_account("K1", "S1")
    real_wallet = healthy.wallets["UNIFIED"]
    odd = {"value": "NaN"}

    def wallet_with_an_odd_field(t):
        entry = real_wallet(t)
        entry["coin"][0]["equity"] = odd["value"]
        return entry

    healthy.wallets = {"UNIFIED": wallet_with_an_odd_field}
    sim = simulator([healthy])
    store = Store(stale_after=60)
    poller = poller_for(sim, store)
    labels = dict(account="a", account_type="UNIFIED")
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(3):
            poller.poll()
        samples = scrape(store)
        assert sample(samples, "bybit_up", **labels) == 1.0
        assert sample(samples, "bybit_invalid_fields", **labels) == 1.0
        assert sample(samples, "bybit_coin_equity", coin="BTC", **labels) is None
        assert sample(samples, "bybit_coin_wallet_balance", coin="BTC", **labels) == 1.5
        assert sample(samples, "bybit_account_maintenance_margin_ratio", **labels) < 0.1
        odd["value"] = "K1-and-S1 " * 10  # a new value, same field: the set did not change
        poller.poll()
        odd["value"] = "1"  # readable again: the set changed, and nothing is logged for it
        poller.poll()
        assert sample(scrape(store), "bybit_invalid_fields", **labels) == 0.0
    lines = [r for r in caplog.records if r.getMessage() == "unreadable field"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert lines[0].fields == {"account": "a", "account_type": "UNIFIED",
                               "field": "coin BTC equity", "value": "NaN"}
    assert "S1" not in caplog.text
