"""Property-based: whatever Bybit or a user's YAML throws at us, the answer is a valid result
or one classified error, never anything else."""

import copy
import math

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from exporter.bybit.answers import InvalidResponse
from exporter.bybit.endpoint import Context
from exporter.bybit.endpoints import wallet
from exporter.config import ConfigError, build, load_text
from exporter.metrics.fields import Translation
from tests.test_translate import DOC_UNIFIED, REAL_CONTRACT

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20)
number_like = st.sampled_from(["", "0", "-1.5", "1e5", "0.000000000000000000", "NaN", "inf",
                               "abc", "1,0", " 2", "--1"]) | json_scalars


def check_translation(payload, account_type="UNIFIED"):
    try:
        translation = wallet.translate([payload], Context({"account_type": account_type}))
    except InvalidResponse:
        return
    assert isinstance(translation, Translation)
    assert all(isinstance(s.value, float) and math.isfinite(s.value)
               for s in translation.samples)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_is_a_snapshot_or_invalid(payload):
    check_translation(payload)
    check_translation({"retCode": 0, "result": {"list": [payload]}})
    check_translation({"retCode": 0, "result": {"list": [{"accountType": "UNIFIED",
                                                          "coin": [payload]}]}})


@settings(max_examples=300)
@given(base=st.sampled_from([(DOC_UNIFIED, "UNIFIED"), (REAL_CONTRACT, "CONTRACT")]),
       where=st.sampled_from(["account", "coin"]), field=st.text(max_size=25)
       | st.sampled_from(["totalEquity", "accountMMRate", "equity", "usdValue", "coin",
                          "marginCollateral", "accountType", "walletBalance"]),
       value=number_like | json_values)
def test_a_real_response_with_one_field_changed(base, where, field, value):
    payload, account_type = base
    payload = copy.deepcopy(payload)
    entry = payload["result"]["list"][0]
    (entry if where == "account" else entry["coin"][0])[field] = value
    check_translation(payload, account_type)


VALID = {"accounts": [{"name": "main", "api_key": "${KEY}", "api_secret": "${SECRET}",
                       "account_types": ["UNIFIED"], "coins": ["BTC"], "endpoint": "testnet",
                       "recv_window": 5000, "poll_interval": "15s"}],
         "poll_interval": "30s", "timeout": "10s", "stale_after": "5m"}
ENV = {"KEY": "fuzz-key-value", "SECRET": "fuzz-secret-value"}


def check_config(raw):
    try:
        config = build(raw, base_dir=__import__("pathlib").Path("/nonexistent"), environ=ENV)
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and ": " in p for p in exc.problems)
        assert not any(ENV["SECRET"] in p for p in exc.problems)
        return
    assert config.accounts and all(a.poll_interval > 0 for a in config.accounts)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_arbitrary_yaml_text_is_a_config_or_a_config_error(text):
    try:
        load_text(text, environ=ENV)
    except ConfigError as exc:
        assert exc.problems


@settings(max_examples=300)
@given(json_values)
def test_arbitrary_structures_are_a_config_or_a_config_error(raw):
    check_config(raw)


@settings(max_examples=400)
@given(top=st.booleans(), field=st.sampled_from(sorted(VALID) + sorted(VALID["accounts"][0])
                                                + ["extra"]),
       value=json_values | st.sampled_from(["${SECRET}", "${NOPE}", "0s", "-1m", "1h30m",
                                            "https://x", "UNIFIED", ["CONTRACT", "SPOT"]]))
def test_a_valid_config_with_one_key_changed(top, field, value):
    raw = copy.deepcopy(VALID)
    (raw if top else raw["accounts"][0])[field] = value
    check_config(raw)
    check_config(yaml.safe_load(yaml.safe_dump(raw)))
