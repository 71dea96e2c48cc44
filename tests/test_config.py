"""The config loader: defaults, every refusal, all problems at once, secrets kept hidden."""

import textwrap

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from exporter.config import ConfigError, load_file, load_text, parse_duration, summary

ENV = {"KEY": "KEY123", "SECRET": "s3cr3t-value"}


def load(text, env=ENV, base_dir=None):
    kwargs = {"base_dir": base_dir} if base_dir else {}
    return load_text(textwrap.dedent(text), environ=env, **kwargs)


def problems(text, env=ENV, base_dir=None):
    with pytest.raises(ConfigError) as caught:
        load(text, env, base_dir)
    return caught.value.problems


MINIMAL = """
accounts:
  - name: main
    api_key: ${KEY}
    api_secret: ${SECRET}
"""


def test_minimal_config_takes_the_defaults():
    config = load(MINIMAL)
    assert (config.poll_interval, config.timeout, config.stale_after) == (30.0, 10.0, 300.0)
    account = config.accounts[0]
    assert account.name == "main"
    assert account.api_key.reveal() == "KEY123"
    assert account.api_secret.reveal() == "s3cr3t-value"
    assert account.account_types == ("UNIFIED",)
    assert account.coins == ()
    assert account.endpoint == "https://api.bybit.com"
    assert account.recv_window_ms == 5000
    assert account.poll_interval == 30.0


def test_full_config():
    config = load("""
        poll_interval: 1m
        timeout: 2500ms
        stale_after: 1h
        accounts:
          - name: sub.1_a-b
            api_key: k
            api_secret: s
            account_types: [CONTRACT, SPOT]
            coins: [btc, USDT]
            endpoint: testnet
            recv_window: 10000
            poll_interval: 15
          - name: eu
            api_key: k2
            api_secret: s2
            endpoint: "http://127.0.0.1:8080/"
    """)
    assert (config.poll_interval, config.timeout, config.stale_after) == (60.0, 2.5, 3600.0)
    first, second = config.accounts
    assert first.account_types == ("CONTRACT", "SPOT")
    assert first.coins == ("BTC", "USDT")
    assert first.endpoint == "https://api-testnet.bybit.com"
    assert first.recv_window_ms == 10000
    assert first.poll_interval == 15.0
    assert second.poll_interval == 60.0
    assert second.endpoint == "http://127.0.0.1:8080"


@pytest.mark.parametrize("text, seconds", [
    ("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h", 3600), ("1m30s", 90), (45, 45), (0.25, 0.25),
    ("7d", 7 * 86400), ("1d12h", 129600)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["0s", "-5s", 0, -1, "30", "5 minutes", "1w", "", True, None, [1]])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_region_endpoints():
    for region, host in [("nl", "api.bybit.nl"), ("tr", "api.bybit.tr"), ("demo", "api-demo.bybit.com")]:
        config = load(MINIMAL.replace("api_secret: ${SECRET}",
                                      f"api_secret: ${{SECRET}}\n    endpoint: {region}"))
        assert config.accounts[0].endpoint == f"https://{host}"


@pytest.mark.parametrize("fragment, field, words", [
    ("    colour: red", "accounts[0].colour", "unknown key"),
    ("    account_types: [UNIFIED, FUNDING]", "accounts[0].account_types[1]", "one of UNIFIED"),
    ("    account_types: []", "accounts[0].account_types", "non-empty list"),
    ("    account_types: UNIFIED", "accounts[0].account_types", "non-empty list"),
    ("    account_types: [UNIFIED, UNIFIED]", "accounts[0].account_types[1]", "duplicate"),
    ("    coins: [BTC, 'US DT']", "accounts[0].coins[1]", "coin symbol"),
    ("    coins: []", "accounts[0].coins", "non-empty list"),
    ("    endpoint: moon", "accounts[0].endpoint", "must be one of mainnet"),
    ("    endpoint: ftp://x", "accounts[0].endpoint", "must be one of mainnet"),
    ("    recv_window: 0", "accounts[0].recv_window", "1 to 60000"),
    ("    recv_window: '5000'", "accounts[0].recv_window", "1 to 60000"),
    ("    poll_interval: 0s", "accounts[0].poll_interval", "greater than zero"),
    ("    poll_interval: soon", "accounts[0].poll_interval", "duration"),
    ("    api_secret_file: /x", "accounts[0]", "exactly one of"),
])
def test_account_field_errors_name_the_field(fragment, field, words):
    found = problems(MINIMAL + fragment + "\n")
    assert len(found) == 1, found
    assert found[0].startswith(field + ":"), found
    assert words in found[0]


@pytest.mark.parametrize("text, field, words", [
    ("accounts: []", "accounts", "non-empty list"),
    ("poll_interval: 30s", "accounts", "non-empty list"),
    ("- 1\n- 2", "config", "mapping"),
    ("", "config", "mapping"),
    (MINIMAL + "timeout: -1s\n", "timeout", "greater than zero"),
    (MINIMAL + "stale_after: 0\n", "stale_after", "greater than zero"),
    (MINIMAL + "pol_interval: 5s\n", "pol_interval", "unknown key"),
    (MINIMAL + "stale_after: 10s\n", "stale_after", "at least the poll_interval"),
    ("accounts: [1]", "accounts[0]", "mapping"),
])
def test_top_level_errors(text, field, words):
    found = problems(text)
    assert found and found[0].startswith(field + ":"), found
    assert words in found[0]


def test_yaml_syntax_and_duplicate_keys():
    assert "not valid YAML" in problems("accounts: [\n")[0]
    found = problems("timeout: 1s\ntimeout: 2s\n" + MINIMAL)
    assert "duplicate key 'timeout'" in found[0]


def test_name_rules_and_duplicates():
    found = problems("""
        accounts:
          - {name: "bad name", api_key: k, api_secret: s}
          - {api_key: k, api_secret: s}
          - {name: a, api_key: k, api_secret: s}
          - {name: a, api_key: k, api_secret: s}
    """)
    assert found == [
        "accounts[0].name: required: letters, digits, '_', '.' or '-'",
        "accounts[1].name: required: letters, digits, '_', '.' or '-'",
        "accounts[3].name: duplicate account name 'a'",
    ]


def test_missing_credentials_and_unset_variables_are_all_reported_together():
    found = problems("""
        accounts:
          - name: a
            api_secret: s
          - name: b
            api_key: ${NOPE_KEY}
            api_secret: ${NOPE_SECRET}
          - name: c
            api_key: k
          - name: d
            api_key: k
            api_secret: s
            api_secret_file: f
    """)
    assert found == [
        "accounts[0].api_key: required: a non-empty string",
        "accounts[1].api_key: environment variable NOPE_KEY is not set",
        "accounts[1].api_secret: environment variable NOPE_SECRET is not set",
        "accounts[2]: set exactly one of api_secret, api_secret_file, rsa_private_key_file",
        "accounts[3]: set exactly one of api_secret, api_secret_file, rsa_private_key_file "
        "(got api_secret, api_secret_file)",
    ]


def test_variable_set_to_empty_is_refused():
    found = problems(MINIMAL, env={"KEY": "k", "SECRET": ""})
    assert found == ["accounts[0].api_secret: is empty after environment substitution"]


def test_secret_file_relative_to_the_config_and_stripped(tmp_path):
    (tmp_path / "secret.txt").write_text("file-secret\n")
    config_path = tmp_path / "config.yaml"
    config_path.write_text("accounts:\n  - {name: a, api_key: k, api_secret_file: secret.txt}\n")
    assert load_file(config_path, environ={}).accounts[0].api_secret.reveal() == "file-secret"


def test_secret_file_missing_or_empty(tmp_path):
    (tmp_path / "empty").write_text("\n")
    found = problems("""
        accounts:
          - {name: a, api_key: k, api_secret_file: missing.txt}
          - {name: b, api_key: k, api_secret_file: empty}
    """, base_dir=tmp_path)
    assert found[0].startswith("accounts[0].api_secret_file: cannot read")
    assert "No such file" in found[0]
    assert found[1].startswith("accounts[1].api_secret_file:") and "is empty" in found[1]


def _pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_rsa_key_file(tmp_path):
    (tmp_path / "rsa.pem").write_text(_pem(rsa.generate_private_key(65537, 2048)))
    (tmp_path / "ec.pem").write_text(_pem(ec.generate_private_key(ec.SECP256R1())))
    (tmp_path / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\nTOPSECRETJUNK\n")
    text = """
        accounts:
          - {name: a, api_key: k, rsa_private_key_file: rsa.pem}
          - {name: b, api_key: k, rsa_private_key_file: ec.pem}
          - {name: c, api_key: k, rsa_private_key_file: junk.pem}
    """
    found = problems(text, base_dir=tmp_path)
    assert found == ["accounts[1].rsa_private_key_file: the PEM key is not an RSA key",
                     "accounts[2].rsa_private_key_file: not a readable PEM private key"]
    assert "TOPSECRETJUNK" not in "".join(found)
    good = load(text.split("\n          - {name: b")[0], base_dir=tmp_path)
    assert good.accounts[0].key_type == "rsa"


def test_unreadable_config_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_file(tmp_path / "nope.yaml")
    assert caught.value.problems[0].startswith("config.file: cannot read")


def test_secrets_appear_in_no_repr_error_or_summary():
    config = load(MINIMAL + "    coins: [BTC]\n")
    shown = repr(config) + str(config) + summary(config)
    assert "s3cr3t-value" not in shown and "KEY123" not in shown
    assert "main: types=UNIFIED coins=BTC endpoint=https://api.bybit.com key=hmac" in summary(config)


@pytest.mark.parametrize("endpoint, allowed", [
    ("http://api.example.com", False), ("http://192.0.2.7:8080", False),
    ("http://127.0.0.1:8080", True), ("http://localhost:9", True), ("http://[::1]:9", True),
    ("https://api.example.com", True)])
def test_clear_text_http_only_on_loopback(endpoint, allowed):
    text = MINIMAL + f"    endpoint: {endpoint}\n"
    if allowed:
        assert load(text).accounts[0].endpoint == endpoint
        return
    with pytest.raises(ConfigError) as caught:
        load(text)
    assert caught.value.problems == [
        f"accounts[0].endpoint: http:// sends the API key and signatures unencrypted: use "
        f"https (or set allow_insecure_http: true) (got {endpoint})"]
    assert load(text + "    allow_insecure_http: true\n").accounts[0].endpoint == endpoint


def test_collectors_per_account_and_by_default():
    config = load("collect: [wallet, positions]\n" + MINIMAL + "    collect: [wallet, members]\n"
                  + MINIMAL.split("accounts:\n")[1].replace("main", "second"))
    assert [a.collect for a in config.accounts] == [("wallet", "members"),
                                                    ("wallet", "positions")]
    assert load(MINIMAL).accounts[0].collect == (
        "wallet", "account_info", "positions", "orders", "borrowing", "options", "assets",
        "funding", "api_key", "transactions")
    with pytest.raises(ConfigError) as caught:
        load(MINIMAL + "    collect: [wallet, everything]\n")
    assert caught.value.problems[0].startswith("accounts[0].collect[1]: must be one of wallet,")


def test_the_api_key_from_a_file(tmp_path):
    (tmp_path / "key").write_text("KEYFROMFILE\n")
    text = MINIMAL.replace("api_key:", "api_key_file: key\n    #")
    config = load_text(text, base_dir=tmp_path, environ=ENV)
    assert config.accounts[0].api_key.reveal() == "KEYFROMFILE"


CLASSIC = MINIMAL.split("accounts:\n")[1].replace("main", "classic") + \
    "    account_types: [CONTRACT, SPOT]\n"


@pytest.mark.parametrize("collector, what", [
    ("transactions", "the Unified account's transaction log"),
    ("orders", "the Unified account's open orders"),
    ("borrowing", "the Unified account's collateral info"),
    ("options", "the Unified account's option greeks and margin")])
def test_unified_only_collectors_are_on_by_default_where_there_is_a_unified_account(collector,
                                                                                    what):
    config = load(MINIMAL + CLASSIC)
    assert collector in config.accounts[0].collect
    assert collector not in config.accounts[1].collect
    inherited = load(f"collect: [wallet, {collector}]\n" + MINIMAL + CLASSIC)
    assert [a.collect for a in inherited.accounts] == [("wallet", collector), ("wallet",)]
    assert problems(MINIMAL + CLASSIC + f"    collect: [wallet, {collector}]\n") == [
        f"accounts[1].collect[1]: {collector} reads {what}: account_types must include UNIFIED"]


def test_intervals_override_a_collectors_own_at_the_top_and_per_account():
    config = load("intervals: {transactions: 2m, funding: 10m}\n" + MINIMAL
                  + "    intervals: {transactions: 90s}\n")
    account = config.accounts[0]
    assert account.intervals == (("funding", 600.0), ("transactions", 90.0))
    assert account.interval_asked("transactions") == 90.0
    assert account.interval_asked("wallet") is None


@pytest.mark.parametrize("text, expected", [
    ("intervals: {everything: 1m}\n" + MINIMAL,
     "intervals.everything: unknown collector (one of wallet,"),
    (MINIMAL + "    poll_interval: 1m\n    intervals: {deposits: 30s}\n",
     "accounts[0].intervals.deposits: (30s) must be at least the account's poll_interval (60s)"),
    ("intervals: {funding: 10s}\n" + MINIMAL,
     "intervals.funding (for accounts[0]): (10s) must be at least the account's poll_interval"),
    ("intervals: [funding]\n" + MINIMAL, "intervals: must be a mapping"),
    (MINIMAL + "    intervals: {funding: soon}\n", "accounts[0].intervals.funding: must be a"),
    ("transactions_since: 3y\n" + MINIMAL, "transactions_since: must be a duration"),
    (MINIMAL + "    transactions_since: 800d\n",
     "accounts[0].transactions_since: must be at most 730d"),
])
def test_bad_intervals_and_backfills_are_refused_naming_the_field(text, expected):
    found = problems(text)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_backfill_at_the_top_and_per_account():
    config = load("transactions_since: 7d\n" + MINIMAL + CLASSIC.replace("classic", "b")
                  .replace("    account_types: [CONTRACT, SPOT]\n", "    transactions_since: 1d\n"))
    assert [a.transactions_since for a in config.accounts] == [7 * 86400.0, 86400.0]
    assert load(MINIMAL).accounts[0].transactions_since == 0.0
