"""The fast exposition gives exactly the stock prometheus_client samples, plain and gzipped."""

import gzip
import zlib
from unittest import mock

from hypothesis import given, settings, strategies as st
from prometheus_client import generate_latest

from benchmarks.stock import build_registry
from exporter.bybit.endpoints.wallet import ACCOUNT_FIELDS, COIN_FIELDS
from exporter.metrics import deflate as deflate_module
from exporter.metrics import filing as filing_module
from exporter.metrics import render as exposition_module
from exporter.metrics.deflate import chunk_text
from exporter.metrics.family import WALLET_HEALTH
from exporter.metrics.fields import Sample, Translation, flag
from exporter.metrics.reasons import Reason
from exporter.metrics.render import FastExposition
from exporter.service.catalogue import SERVED
from exporter.service.store import Store, TargetKey, TargetSpec
from tests.conftest import parse_samples
from tests.test_collection import FakeClock

ACCOUNT_METRICS = {f.family.name: f.family for f in ACCOUNT_FIELDS}
COIN_METRICS = {f.family.name: f.family for f in COIN_FIELDS}
FLAG_METRICS = {f.family.name for f in COIN_FIELDS if f.kind is flag}


def key(account, account_type):
    return TargetKey(account, "wallet", (("account_type", account_type),))


def spec(account_type, interval=30.0):
    return TargetSpec(WALLET_HEALTH, interval, (("account_type", account_type),))


def both(store, exposition=None):
    stock = generate_latest(build_registry(store)).decode()
    fast = (exposition or FastExposition(store, SERVED)).render(gzip=False).decode()
    return parse_samples(stock), parse_samples(fast), fast


def snapshot(coins=None, totals=None):
    totals = totals if totals is not None else {m: 1.5 for m in ACCOUNT_METRICS}
    coins = coins if coins is not None else {
        "BTC": {m: (1.0 if m in FLAG_METRICS else -0.25) for m in COIN_METRICS}}
    samples = [Sample(ACCOUNT_METRICS[m], (), v) for m, v in totals.items()]
    samples += [Sample(COIN_METRICS[m], (coin,), v)
                for coin in sorted(coins) for m, v in coins[coin].items()]
    return Translation(tuple(samples))


def populated_store(clock):
    store = Store(stale_after=300, clock=clock)
    exposition = FastExposition(store, SERVED)
    store.set_targets({key(account, account_type): spec(account_type, interval)
                       for account, account_type, interval in (
                           ("a", "UNIFIED", 30.0), ("b", "SPOT", 60.0), ("b", "CONTRACT", 60.0),
                           ("never", "UNIFIED", 30.0))})
    store.record_success(key("a", "UNIFIED"), snapshot(), 0.25, 42)
    store.record_success(key("b", "SPOT"), snapshot(totals={}), 0.5, None)
    store.record_success(key("b", "CONTRACT"), snapshot(), 0.5, None)
    store.record_failure(key("b", "CONTRACT"), Reason.TIMEOUT, 2.0)
    store.record_failure(key("never", "UNIFIED"), Reason.AUTH, 0.1)
    return store, exposition


def test_same_samples_as_the_stock_path_fresh_failing_and_stale():
    clock = FakeClock()
    store, exposition = populated_store(clock)
    stock, fast, text = both(store, exposition)
    assert stock == fast
    assert len(fast) > 100
    assert text.count("# TYPE bybit_coin_equity gauge") == 1
    clock.now += 301  # every snapshot is now stale: values go, health stays
    stock, fast, _ = both(store, exposition)
    assert stock == fast
    assert not any(name.startswith("bybit_coin_") for name, _ in fast)
    assert any(name == "bybit_up" for name, _ in fast)


def test_gzip_body_is_a_valid_gzip_of_the_plain_body():
    store, _ = populated_store(FakeClock())
    exposition = FastExposition(store, SERVED,
                                extra=lambda: b"# HELP x y\n# TYPE x gauge\nx 1.0\n")
    plain = exposition.render(gzip=False)
    zipped = exposition.render(gzip=True)
    assert gzip.decompress(zipped) == plain
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)  # strict: checks CRC and length
    assert decoder.decompress(zipped) == plain and decoder.eof and not decoder.unused_data
    assert plain.endswith(b"x 1.0\n")


def test_cache_follows_changes(monkeypatch):
    assembled = []
    real_assemble = exposition_module.assemble
    monkeypatch.setattr(exposition_module, "assemble",
                        lambda chunks: assembled.append(1) or real_assemble(chunks))
    store, exposition = populated_store(FakeClock())
    first = exposition.render(gzip=False)
    assert exposition.render(gzip=False) == first
    assert exposition.render(gzip=True)
    assert len(assembled) == 1  # unchanged states: joined once, served three times
    assert b'coin="BTC"' in first
    store.record_success(key("a", "UNIFIED"), snapshot(coins={}), 0.1, 41)
    second = exposition.render(gzip=False)
    assert b'account="a",account_type="UNIFIED",coin="BTC"' not in second
    assert b'bybit_rate_limit_remaining{account="a",account_type="UNIFIED"} 41.0' in second
    assert len(assembled) == 2


coin_names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
values = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(coins=st.dictionaries(coin_names, st.dictionaries(
           st.sampled_from(sorted(COIN_METRICS)), values), max_size=5),
       totals=st.dictionaries(st.sampled_from(sorted(ACCOUNT_METRICS)), values))
def test_any_snapshot_renders_identically(coins, totals):
    store = Store(stale_after=60)
    exposition = FastExposition(store, SERVED)
    store.set_targets({key("acct", "UNIFIED"): spec("UNIFIED")})
    store.record_success(key("acct", "UNIFIED"), snapshot(coins=coins, totals=totals), 0.1, None)
    stock, fast, _ = both(store, exposition)
    assert stock == fast


def test_an_unchanged_snapshot_reuses_its_rendered_values_and_updates_health():
    store = Store(stale_after=60)
    exposition = FastExposition(store, SERVED)
    target = key("a", "UNIFIED")
    store.set_targets({target: spec("UNIFIED")})
    store.record_success(target, snapshot(), 0.1, 10)
    before = exposition.rendered(target)
    store.record_success(target, snapshot(), 0.2, 9)
    after = exposition.rendered(target)
    assert after.values is before.values
    assert after.health["bybit_poll_errors_total"] is before.health["bybit_poll_errors_total"]
    assert after.health["bybit_poll_duration_seconds"] != before.health["bybit_poll_duration_seconds"]
    assert b"} 9.0" in chunk_text(after.health["bybit_rate_limit_remaining"])
    store.record_success(target, snapshot(coins={}), 0.2, 9)
    assert "bybit_coin_equity" not in exposition.rendered(target).values
    stock, fast, _ = both(store, exposition)
    assert stock == fast


def test_nothing_is_served_for_a_target_before_its_first_poll_attempt_ends():
    store = Store(stale_after=60)
    exposition = FastExposition(store, SERVED)
    store.set_targets({key("a", "UNIFIED"): spec("UNIFIED"), key("b", "UNIFIED"): spec("UNIFIED")})
    text = exposition.render(gzip=False).decode()
    assert "bybit_up" not in text and 'account="a"' not in text  # not "down": not polled yet
    store.record_failure(key("a", "UNIFIED"), Reason.NETWORK, 0.1)
    samples = parse_samples(exposition.render(gzip=False).decode())
    assert samples[("bybit_up", (("account", "a"), ("account_type", "UNIFIED")))] == 0.0
    assert not any(("account", "b") in labels for _, labels in samples)


def test_a_target_removed_by_a_reload_is_no_longer_served_and_a_late_poll_does_not_revive_it():
    store = Store(stale_after=60)
    exposition = FastExposition(store, SERVED)
    a, b = key("a", "UNIFIED"), key("b", "UNIFIED")
    store.set_targets({a: spec("UNIFIED"), b: spec("UNIFIED")})
    store.record_success(a, snapshot(), 0.1, None)
    store.record_success(b, snapshot(), 0.1, None)
    assert b'account="b"' in exposition.render(gzip=False)
    store.set_targets({a: spec("UNIFIED")})
    store.record_success(b, snapshot(), 0.1, None)  # a poll of b that was under way
    text = exposition.render(gzip=False)
    assert b'account="b"' not in text and b'account="a"' in text
    stock, fast, _ = both(store, exposition)
    assert stock == fast


def test_a_target_removed_while_its_poll_is_being_rendered_is_not_served():
    """A reload forgets a target between a poll's writing its state and the renderer's filing
    it (here: a listener heard before the renderer removes it): it is not served, then or
    later."""
    store = Store(stale_after=60)
    a, b = key("a", "UNIFIED"), key("b", "UNIFIED")

    def reload_meanwhile(state, _previous):
        if state.key == b and state.up:
            store.set_targets({a: spec("UNIFIED")})

    store.listen(reload_meanwhile)
    exposition = FastExposition(store, SERVED)
    store.set_targets({a: spec("UNIFIED"), b: spec("UNIFIED")})
    store.record_success(a, snapshot(), 0.1, None)
    store.record_success(b, snapshot(), 0.1, None)
    text = exposition.render(gzip=False)
    assert b'account="b"' not in text and b'account="a"' in text
    store.record_success(a, snapshot(totals={}), 0.1, None)
    assert b'account="b"' not in exposition.render(gzip=False)
    stock, fast, _ = both(store, exposition)
    assert stock == fast


accounts = st.sampled_from(["a", "b", "c", "d", "e"])
steps = st.lists(st.one_of(
    st.tuples(st.just("success"), accounts, st.dictionaries(
        st.sampled_from(["BTC", "ETH", "USDT"]), st.dictionaries(
            st.sampled_from(sorted(COIN_METRICS)), values, max_size=3), max_size=3)),
    st.tuples(st.just("failure"), accounts, st.just({})),
    st.tuples(st.just("targets"), st.frozensets(accounts), st.just({})),
    st.tuples(st.just("time"), st.just(""), st.integers(0, 70))), max_size=25)


@settings(max_examples=80, deadline=None)
@given(steps=steps)
def test_the_gzip_body_stays_valid_through_any_changes(steps):
    """Targets come, change, fail, go stale (each at its own time) and go: after every step
    the gzip body passes a strict decoder (CRC-32 and length in its trailer) and holds the
    stock path's samples. Blocks of two slots: five targets' chunks span several blocks; lines
    stored below 100 bytes: two of them fill a block that is compressed as one."""
    with mock.patch.object(filing_module, "BLOCK_SLOTS", 2), \
            mock.patch.object(deflate_module, "STORE_BELOW", 100):
        _check_every_step(steps)


def _check_every_step(steps):
    clock = FakeClock()
    store = Store(stale_after=60, clock=clock)
    exposition = FastExposition(store, SERVED)
    targets = {"a", "b", "c", "d", "e"}
    store.set_targets({key(name, "UNIFIED"): spec("UNIFIED") for name in targets})
    for kind, subject, coins in steps:
        if kind == "success" and subject in targets:
            store.record_success(key(subject, "UNIFIED"), snapshot(coins=coins), 0.1, 5)
        elif kind == "failure" and subject in targets:
            store.record_failure(key(subject, "UNIFIED"), Reason.TIMEOUT, 1.0)
        elif kind == "targets":
            targets = set(subject)
            store.set_targets({key(name, "UNIFIED"): spec("UNIFIED") for name in targets})
        elif kind == "time":  # staleness (60 s) comes to each target at its own time
            clock.now += coins
        zipped = exposition.render(gzip=True)
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        plain = decoder.decompress(zipped)
        assert decoder.eof and not decoder.unused_data
        assert parse_samples(plain.decode()) == parse_samples(
            generate_latest(build_registry(store)).decode())


def test_a_scrape_refiles_only_the_targets_gone_stale_and_expiries_stay_bounded(monkeypatch):
    """With the default stale_after (300 s) and 30 s polls, a scrape now and then used to
    file every target again (a loop over a fund's 1,400 targets, under the lock that polls
    need); it files again only those whose values went stale since the last scrape."""
    clock = FakeClock()
    store = Store(stale_after=300, clock=clock)
    exposition = FastExposition(store, SERVED)
    names = [f"acct{i:03}" for i in range(100)]
    store.set_targets({key(name, "UNIFIED"): spec("UNIFIED") for name in names})
    for round_ in range(40):  # every target polled 40 times, 30 s apart, staggered
        for i, name in enumerate(names):
            clock.now = 1_000 + round_ * 30 + i * 0.3
            if not (round_ == 39 and name in ("acct007", "acct050")):  # these two stop
                store.record_success(key(name, "UNIFIED"), snapshot(), 0.1, 5)
        exposition.render(gzip=True)
    filed = []
    real_file = FastExposition._file
    monkeypatch.setattr(FastExposition, "_file",
                        lambda self, key_, *rest: filed.append(key_.account) or
                        real_file(self, key_, *rest))
    clock.now = 1_000 + 38 * 30 + 50 * 0.3 + 300.01  # acct007's and acct050's values expired
    text = exposition.render(gzip=False).decode()
    assert sorted(filed) == ["acct007", "acct050"]
    assert 'bybit_coin_equity{account="acct007"' not in text
    assert 'bybit_coin_equity{account="acct051"' in text
    assert both(store, exposition)[0] == both(store, exposition)[1]
    assert len(exposition._deadlines) <= 2 * len(names) + 64  # a poll's expiry, kept 40 times


def one_line_families(exposition):
    return {name: filed for name, filed in exposition._filed.items()
            if name in ("bybit_up", "bybit_last_success_timestamp_seconds")}


def test_one_line_chunks_are_compressed_a_block_at_a_time(monkeypatch):
    """A family with one line per target: each line is stored as it is (too short to gain
    from compression alone); a block of them is compressed as one, with the same text. The
    first polls (which land together at a start) compress a block once, when they fill it;
    the rest is compressed at the next polls."""
    real_deflate = deflate_module.deflate
    compressed = []
    monkeypatch.setattr(deflate_module, "deflate", lambda plain, *level: compressed.append(
        plain.count(b"bybit_up{")) or real_deflate(plain, *level))
    store = Store(stale_after=60)
    exposition = FastExposition(store, SERVED)
    names = [f"account-{i:03}" for i in range(72)]  # four blocks of 16, and one of 8
    store.set_targets({key(name, "UNIFIED"): spec("UNIFIED") for name in names})
    for name in names:
        store.record_success(key(name, "UNIFIED"), snapshot(), 0.1, 5)
    families = one_line_families(exposition)
    assert len(families) == 2
    assert [count for count in compressed if count > 1] == [16] * 4
    for filed in families.values():  # the last block's lines are still stored, as they are
        assert [block == b"".join(filed.block_slots(i)) for i, block in enumerate(filed.blocks)] \
            == [False] * 4 + [True]
    for name in names:
        store.record_success(key(name, "UNIFIED"), snapshot(), 0.2, 4)
    for filed in families.values():
        plain = b"".join(chunk_text((block, 0, 0)) for block in filed.blocks)
        stored = sum(len(deflated) for deflated in filed.deflated)
        assert plain.count(b"\n") == 72
        assert sum(map(len, filed.blocks)) * 3 < stored  # and none of the blocks is stored
        assert all(deflate_module.stored_text(block) is None for block in filed.blocks)
    zipped = exposition.render(gzip=True)
    assert parse_samples(gzip.decompress(zipped).decode()) == both(store, exposition)[0]


def test_a_block_changed_while_it_was_compressed_keeps_the_change(monkeypatch):
    """Blocks are compressed outside the lock: when another poll files into the same block
    meanwhile, the compressed text (now outdated) is not put in place."""
    store = Store(stale_after=60)
    exposition = FastExposition(store, SERVED)
    names = [f"account-{i:03}" for i in range(16)]
    store.set_targets({key(name, "UNIFIED"): spec("UNIFIED") for name in names})
    for name in names:
        store.record_success(key(name, "UNIFIED"), snapshot(), 0.1, 5)
    real_deflate = deflate_module.deflate
    meanwhile = []

    def another_poll_files_meanwhile(plain, *level):
        packing = plain.startswith(b"bybit_rate_limit_remaining") and plain.count(b"\n") > 1
        if packing and not meanwhile:
            meanwhile.append(1)
            store.record_success(key("account-003", "UNIFIED"), snapshot(), 0.1, 4)
        return real_deflate(plain, *level)

    monkeypatch.setattr(deflate_module, "deflate", another_poll_files_meanwhile)
    store.record_success(key("account-009", "UNIFIED"), snapshot(), 0.1, 3)
    assert meanwhile
    text = exposition.render(gzip=True)
    samples = parse_samples(gzip.decompress(text).decode())
    remaining = {dict(labels)["account"]: value for name, labels in samples
                 if name == "bybit_rate_limit_remaining" for value in (samples[(name, labels)],)}
    assert remaining["account-003"] == 4 and remaining["account-009"] == 3
    assert samples == both(store, exposition)[0]
