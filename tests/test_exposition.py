"""The fast exposition gives exactly the stock prometheus_client samples, plain and gzipped."""

import gzip
import zlib

from hypothesis import given, settings, strategies as st
from prometheus_client import generate_latest

from exporter import exposition as exposition_module
from exporter.exposition import FastExposition, render_target
from exporter.metrics import build_registry
from exporter.store import Store
from exporter.translate import ACCOUNT_FIELDS, COIN_FIELDS, COIN_FLAGS, Snapshot
from tests.conftest import parse_samples
from tests.test_collection import FakeClock


def both(store):
    stock = generate_latest(build_registry(store)).decode()
    fast = FastExposition(store).render(gzip=False).decode()
    return parse_samples(stock), parse_samples(fast), fast


def snapshot(account_type="UNIFIED", coins=None, totals=None):
    totals = totals if totals is not None else {m: 1.5 for _, m, _ in ACCOUNT_FIELDS}
    coins = coins if coins is not None else {
        "BTC": {m: -0.25 for _, m, _ in COIN_FIELDS} | {m: 1.0 for _, m, _ in COIN_FLAGS}}
    return Snapshot(account_type, totals, coins)


def populated_store(clock):
    store = Store(stale_after=300, clock=clock, render=render_target)
    store.set_targets({("a", "UNIFIED"): 30.0, ("b", "SPOT"): 60.0, ("b", "CONTRACT"): 60.0,
                       ("never", "UNIFIED"): 30.0})
    store.record_success(("a", "UNIFIED"), snapshot(), 0.25, 42)
    store.record_success(("b", "SPOT"), snapshot("SPOT", totals={}), 0.5, None)
    store.record_success(("b", "CONTRACT"), snapshot("CONTRACT"), 0.5, None)
    store.record_failure(("b", "CONTRACT"), "timeout", 2.0)
    store.record_failure(("never", "UNIFIED"), "auth", 0.1)
    return store


def test_same_samples_as_the_stock_path_fresh_failing_and_stale():
    clock = FakeClock()
    store = populated_store(clock)
    stock, fast, text = both(store)
    assert stock == fast
    assert len(fast) > 100
    assert text.count("# TYPE bybit_coin_equity gauge") == 1
    clock.now += 301  # every snapshot is now stale: values go, health stays
    stock, fast, _ = both(store)
    assert stock == fast
    assert not any(name.startswith("bybit_coin_") for name, _ in fast)
    assert any(name == "bybit_up" for name, _ in fast)


def test_gzip_body_is_a_valid_gzip_of_the_plain_body():
    store = populated_store(FakeClock())
    exposition = FastExposition(store, extra=lambda: b"# HELP x y\n# TYPE x gauge\nx 1.0\n")
    plain = exposition.render(gzip=False)
    zipped = exposition.render(gzip=True)
    assert gzip.decompress(zipped) == plain
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)  # strict: checks CRC and length
    assert decoder.decompress(zipped) == plain and decoder.eof and not decoder.unused_data
    assert plain.endswith(b"x 1.0\n")


def test_cache_follows_changes(monkeypatch):
    assembled = []
    real_assemble = exposition_module._assemble
    monkeypatch.setattr(exposition_module, "_assemble",
                        lambda chunks: assembled.append(1) or real_assemble(chunks))
    store = populated_store(FakeClock())
    exposition = FastExposition(store)
    first = exposition.render(gzip=False)
    assert exposition.render(gzip=False) == first
    assert exposition.render(gzip=True)
    assert len(assembled) == 1  # unchanged states: joined once, served three times
    assert b'coin="BTC"' in first
    store.record_success(("a", "UNIFIED"), snapshot(coins={}), 0.1, 41)
    second = exposition.render(gzip=False)
    assert b'account="a",account_type="UNIFIED",coin="BTC"' not in second
    assert b'bybit_rate_limit_remaining{account="a",account_type="UNIFIED"} 41.0' in second
    assert len(assembled) == 2


coin_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
values = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(coins=st.dictionaries(coin_names, st.dictionaries(
           st.sampled_from([m for _, m, _ in COIN_FIELDS + COIN_FLAGS]), values), max_size=5),
       totals=st.dictionaries(st.sampled_from([m for _, m, _ in ACCOUNT_FIELDS]), values))
def test_any_snapshot_renders_identically(coins, totals):
    store = Store(stale_after=60, render=render_target)
    store.set_targets({("acct", "UNIFIED"): 30.0})
    store.record_success(("acct", "UNIFIED"), snapshot(coins=coins, totals=totals), 0.1, None)
    stock, fast, _ = both(store)
    assert stock == fast


def test_an_unchanged_snapshot_reuses_its_rendered_values_and_updates_health():
    store = Store(stale_after=60, render=render_target)
    store.set_targets({("a", "UNIFIED"): 30.0})
    store.record_success(("a", "UNIFIED"), snapshot(), 0.1, 10)
    before = store.states()[0].rendered
    store.record_success(("a", "UNIFIED"), snapshot(), 0.2, 9)
    after = store.states()[0].rendered
    assert after.values is before.values
    assert after.health["bybit_poll_errors_total"] is before.health["bybit_poll_errors_total"]
    assert after.health["bybit_poll_duration_seconds"] != before.health["bybit_poll_duration_seconds"]
    assert b"} 9.0" in after.health["bybit_rate_limit_remaining"].plain
    store.record_success(("a", "UNIFIED"), snapshot(coins={}), 0.2, 9)
    assert "bybit_coin_equity" not in store.states()[0].rendered.values
    stock, fast, _ = both(store)
    assert stock == fast
