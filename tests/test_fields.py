"""One odd field never blinds an account: for every endpoint, generated from its catalogue of
documented fields, any one field made unreadable loses its own series only."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from exporter.bybit.endpoint import Context, Endpoint
from exporter.bybit.endpoints import ENDPOINTS
from exporter.config import Account, Secret
from exporter.metrics.fields import (UNREADABLE_EXAMPLES, Field, Translation, amount, bound_list,
                                     flag, millis_time, milliseconds, nonzero, number, rank, text,
                                     timestamp)

ACCOUNT = Account(name="a", api_key=Secret("k"), api_secret=Secret("s"), rsa_private_key=None,
                  account_types=("UNIFIED",), coins=(), endpoint="https://api.bybit.com",
                  recv_window_ms=5000, poll_interval=30.0)
PRICES = {"BTC": 60000.0, "ETH": 3000.0}
WALLET_COINS = frozenset({"BTC", "ETH", "USDT", "USDC"})  # the coins the examples name
# readable values of each kind, "" (not applicable) among them
READABLE: dict[Any, st.SearchStrategy[Any]] = {
    number: st.sampled_from(["", "0", "1.5", "-2.25", "0.000000000000000000", "64000.5", "1e-8"])
    | st.integers(-10**9, 10**9) | st.floats(-1e12, 1e12, allow_nan=False),
    amount: st.sampled_from(["", "0", "1.5", "-2.25", "0.000000000000000000", "64000.5", "1e-8",
                             "-0.00012345678901234567"]) | st.integers(-10**9, 10**9),
    flag: st.sampled_from([True, False, "true", "false", "1", "0", 1, 0, ""]),
    timestamp: st.sampled_from(["", "2026-12-06T00:00:00Z", "1970-01-01T00:00:00Z",
                                "2027-01-01T12:30:00+00:00"]),
    nonzero: st.sampled_from(["", "0", "0.00", "61000.5", "-3", "1e-8"]) | st.integers(-9, 9),
    rank: st.sampled_from(["", 0, 1, 5, "3", "0"]),
    millis_time: st.sampled_from(["", "0", 0, "1796515200000", 1796515200123]),
    milliseconds: st.sampled_from(["", "0", "5000", "100000", 2500]),
    text: st.sampled_from(["", "Buy", "Sell", "ISOLATED_MARGIN", "REGULAR_MARGIN"]),
    bound_list: st.sampled_from([["*"], [], ["192.0.2.1"], ["192.0.2.1", "198.51.100.7"]]),
}


def occurrences(endpoint: Endpoint) -> list[Field]:
    """The fields of the endpoint's example answer, in the order the example asks for them."""
    seen: list[Field] = []
    endpoint.example(lambda field: seen.append(field) or "")
    return seen


def answer(endpoint: Endpoint, values: list[Any]) -> list[Any]:
    supply = iter(values)
    return endpoint.example(lambda _: next(supply))


def translate(endpoint: Endpoint, payloads: list[Any]) -> Translation:
    target = endpoint.targets(ACCOUNT)[0]
    queries = target.queries[:len(payloads)]  # the query of each answer, where it matters
    return endpoint.translate(payloads, Context(dict(target.labels), PRICES, WALLET_COINS,
                                                queries=queries))


def samples(translation: Translation) -> set[tuple[str, tuple[str, ...], float]]:
    return {(s.family.name, s.labels, s.value) for s in translation.samples}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.collector)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_unreadable_field_loses_only_its_own_series(endpoint, data):
    fields = occurrences(endpoint)
    assert fields, "the example answer reads no field"
    values = [data.draw(READABLE[field.kind], label=field.key) for field in fields]
    chosen = data.draw(st.integers(0, len(fields) - 1), label="field")
    bad = data.draw(st.sampled_from(UNREADABLE_EXAMPLES[fields[chosen].kind]), label="bad")
    without = translate(endpoint, answer(endpoint, values[:chosen] + [""] + values[chosen + 1:]))
    broken = translate(endpoint, answer(endpoint, values[:chosen] + [bad] + values[chosen + 1:]))
    assert samples(broken) == samples(without)
    assert without.unreadable == ()
    assert len(broken.unreadable) == 1 and fields[chosen].key in broken.unreadable[0].where
    assert broken.unreadable[0].preview == str(bad)[:40]


def test_every_endpoint_declares_its_fields_and_families():
    for endpoint in ENDPOINTS:
        used = {field.key for field in occurrences(endpoint)}
        declared = {field.key for field in endpoint.fields}
        assert used <= declared, endpoint.collector
        families = {field.family for field in endpoint.fields if field.family is not None}
        assert families <= set(endpoint.families), endpoint.collector
        for kind in {field.kind for field in endpoint.fields}:
            assert kind in READABLE and UNREADABLE_EXAMPLES[kind], (endpoint.collector, kind)
