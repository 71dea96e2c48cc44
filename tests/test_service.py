"""The running exporter in process: one owner per account, reload as a diff, and a collector
that is refused (a missing permission, an endpoint a regional site lacks) affecting itself only."""

from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
import time
import weakref

from exporter.bybit.budget import RequestBudget
from exporter.bybit.client import environ_proxies
from exporter.config import Config, load_text
from exporter.service.account import AccountRunner, Hosts, Shared
from exporter.service.exporter import Exporter
from exporter.service.poller import no_prices
from exporter.service.scheduling import PollScheduler
from exporter.service.store import Store
from exporter.simulator import KeyInfo, without
from tests.conftest import REPO, parse_samples, sample, unified_account, wait_for


def config_for(sim, names, timeout="2s", collect="[wallet, account_info, assets, api_key]"):
    lines = ["poll_interval: 300ms", f"timeout: {timeout}", f"collect: {collect}", "accounts:"]
    lines += [f"  - {{name: {name}, api_key: {key}, api_secret: S-{key}, endpoint: '{sim.url}'}}"
              for name, key in names]
    return load_text("\n".join(lines) + "\n")


def scrape(exporter: Exporter):
    return parse_samples(exporter.render_metrics(gzip=False).decode())


def started(config: Config) -> Exporter:
    exporter = Exporter(config)
    exporter.start()
    wait_for(exporter.ready)
    return exporter


def test_a_reload_stops_the_old_owner_and_closes_its_session(simulator):
    sim = simulator([unified_account(k, f"S-{k}") for k in ("KA", "KB")])
    exporter = started(config_for(sim, [("a", "KA"), ("b", "KB")]))
    try:
        closed = []
        for name, runner in exporter.runners.items():
            session = runner.client.session
            real_close = session.close
            session.close = lambda name=name, real=real_close: (closed.append(name), real())
        a_runner, b_runner = exporter.runners["a"], exporter.runners["b"]
        changed = config_for(sim, [("b", "KB")], timeout="3s")  # a removed; b's timeout changed
        exporter.load_config = lambda: changed
        assert exporter.reload() == (True, [])
        assert sorted(closed) == ["a", "b"]
        assert "a" not in exporter.runners and exporter.runners["b"] is not b_runner
        assert exporter.runners["b"].client.timeout == 3.0
        assert not any(job.startswith("a/") for job in exporter.scheduler.job_ids())
        assert a_runner.client.session is not exporter.runners["b"].client.session
        unchanged = exporter.runners["b"]
        assert exporter.reload() == (True, [])  # the same config again: nothing restarted
        assert exporter.runners["b"] is unchanged and sorted(closed) == ["a", "b"]
    finally:
        exporter.stop()


def test_a_removed_account_is_freed_though_long_lived_objects_are_frozen(simulator):
    """Objects that live as long as the config are kept out of the garbage collector's full
    passes (gc.freeze); a removed account's runner and session are still freed on a reload,
    not kept for the life of the process."""
    sim = simulator([unified_account(k, f"S-{k}") for k in ("KA", "KB")])
    exporter = started(config_for(sim, [("a", "KA"), ("b", "KB")]))
    try:
        assert gc.get_freeze_count() > 1000
        runner = weakref.ref(exporter.runners["a"])
        session = weakref.ref(exporter.runners["a"].client.session)
        exporter.load_config = lambda: config_for(sim, [("b", "KB")])
        assert exporter.reload() == (True, [])
        wait_for(lambda: gc.collect() >= 0 and runner() is None and session() is None)
        assert gc.get_freeze_count() > 1000  # the new config's objects, frozen again
    finally:
        exporter.stop()
        gc.unfreeze()


def test_what_the_first_polls_made_is_frozen_once_they_have_run(simulator):
    """The sessions, connections and jobs that the first polls make live as long as the config:
    they are frozen as soon as every target's first poll has run, not intervals later (until
    then the collector's full passes, 12-29 ms at 200 accounts, stall scrapes)."""
    sim = simulator([unified_account(k, f"S-{k}") for k in ("KA", "KB")])
    exporter = Exporter(dataclasses.replace(config_for(sim, [("a", "KA"), ("b", "KB")]),
                                            poll_interval=600.0))
    exporter.start()
    try:
        frozen_at_start = gc.get_freeze_count()
        wait_for(exporter.ready)
        wait_for(lambda: gc.get_freeze_count() > frozen_at_start, timeout=10)
    finally:
        exporter.stop()
        gc.unfreeze()


def test_a_missing_permission_affects_that_collector_only(simulator, caplog):
    account = unified_account("KP", "S-KP")
    account.key = KeyInfo(permissions=without("Wallet"))
    sim = simulator([account])
    exporter = started(config_for(sim, [("p", "KP")]))
    try:
        wait_for(lambda: sample(scrape(exporter), "bybit_collector_up", account="p",
                                collector="api_key") == 1.0)
        samples = scrape(exporter)
        assert sample(samples, "bybit_up", account="p", account_type="UNIFIED") == 1.0
        assert sample(samples, "bybit_collector_up", account="p", collector="assets") == 0.0
        assert sample(samples, "bybit_collector_failing", account="p", collector="assets",
                      reason="permission") == 1.0
        assert sample(samples, "bybit_account_maintenance_margin_ratio", account="p",
                      account_type="UNIFIED") is not None
        sent = sum(1 for path, _ in account.calls if path == "/v5/asset/asset-overview")
        time.sleep(1.5)  # five poll intervals: a slow retry sends at most one more
        assert sum(1 for path, _ in account.calls if path == "/v5/asset/asset-overview") <= sent + 1
    finally:
        exporter.stop()
    lines = [r for r in caplog.records if getattr(r, "fields", {}).get("collector") == "assets"
             and r.getMessage() == "poll failed"]
    assert len(lines) == 1 and lines[0].fields["missing_permission"] == "Wallet"


def test_an_endpoint_a_regional_site_lacks_is_reported_like_a_permission(simulator):
    account = dataclasses.replace(unified_account("KR", "S-KR"), regional_site="EU")
    sim = simulator([account])
    exporter = started(config_for(sim, [("r", "KR")]))
    try:
        samples = scrape(exporter)
        assert sample(samples, "bybit_collector_failing", account="r", collector="assets",
                      reason="permission") == 1.0
        assert sample(samples, "bybit_up", account="r", account_type="UNIFIED") == 1.0
    finally:
        exporter.stop()


def test_not_ready_before_the_accounts_are_known(simulator):
    sim = simulator([unified_account("KA", "S-KA")])
    exporter = Exporter(config_for(sim, [("a", "KA")]))
    assert not exporter.ready()  # an empty store is not a ready exporter
    exporter.start()
    try:
        wait_for(exporter.ready)
    finally:
        exporter.stop()


LOADED_AFTER_POLLING = """
import sys, time
from exporter.config import load_file
from exporter.service.exporter import Exporter
exporter = Exporter(load_file(sys.argv[1]))
exporter.start()
deadline = time.monotonic() + 20
while not exporter.ready() and time.monotonic() < deadline:
    time.sleep(0.05)
print(exporter.ready(), "sqlite3" in sys.modules)
exporter.stop()
"""


def test_sqlite_is_loaded_only_for_money_flows(simulator, tmp_path):
    """Memory: an exporter without money-flow collectors never imports sqlite3 (1 MB)."""
    sim = simulator([unified_account("KA", "S-KA")])
    loaded = {}
    for collect in ("[wallet, positions, assets]", "[wallet, transactions]"):
        config = tmp_path / "config.yaml"
        config.write_text(f"poll_interval: 300ms\ncollect: {collect}\naccounts:\n"
                          f"  - {{name: a, api_key: KA, api_secret: S-KA, endpoint: '{sim.url}'}}\n")
        out = subprocess.run([sys.executable, "-c", LOADED_AFTER_POLLING, str(config)],
                             capture_output=True, text=True, timeout=60, cwd=REPO, check=True)
        loaded[collect] = out.stdout.split()
    assert loaded == {"[wallet, positions, assets]": ["True", "False"],
                      "[wallet, transactions]": ["True", "True"]}


def test_every_accounts_session_takes_the_proxies_the_environment_names_read_once_a_host(
        monkeypatch):
    """HTTPS_PROXY and NO_PROXY apply to every account's session; the environment is scanned
    once per Bybit host, not once per account."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "api-testnet.bybit.com")
    reads = []
    hosts = Hosts(lambda endpoint: reads.append(endpoint) or environ_proxies(endpoint))
    shared = Shared(RequestBudget(), Store(3600), PollScheduler(1), hosts, no_prices, 5.0)
    config = load_text("accounts:\n" + "".join(
        f"  - {{name: a{i}, api_key: K{i}, api_secret: S, endpoint: {endpoint}}}\n"
        for i, endpoint in enumerate(["https://api.bybit.com"] * 3
                                     + ["https://api-testnet.bybit.com"])))
    runners = [AccountRunner(account, {"wallet": 30.0}, shared) for account in config.accounts]
    assert [r.client.session.proxies.get("https") for r in runners] == \
        ["http://proxy.internal:3128"] * 3 + [None]
    assert reads == ["https://api.bybit.com", "https://api-testnet.bybit.com"]
    for runner in runners:
        runner.client.close()
