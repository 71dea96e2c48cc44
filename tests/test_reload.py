"""Config reload without downtime: SIGHUP and POST /-/reload on the real process."""

import signal

import requests

from tests.conftest import sample, unified_account, wait_for


def accounts_yaml(sim, entries):
    lines = ["poll_interval: 300ms", "accounts:"]
    for name, key, extra in entries:
        lines.append(f"  - {{name: {name}, api_key: {key}, api_secret: S-{key}, "
                     f"endpoint: '{sim.url}'{extra}}}")
    return "\n".join(lines) + "\n"


def accounts_up(exporter):
    return {dict(labels)["account"]: value for (name, labels), value in exporter.samples().items()
            if name == "bybit_up"}


def test_reload_adds_removes_and_changes_accounts_and_refuses_a_bad_config(
        simulator, tmp_path, exporter_process):
    sim = simulator([unified_account(key, f"S-{key}") for key in ("KA", "KB", "KC")])
    config = tmp_path / "config.yaml"
    config.write_text(accounts_yaml(sim, [("a", "KA", ""), ("b", "KB", "")]))
    exporter = exporter_process(["--config.file", str(config), "--web.enable-lifecycle"])
    exporter.wait_ready()
    wait_for(lambda: accounts_up(exporter) == {"a": 1.0, "b": 1.0})
    first_load = sample(exporter.samples(), "bybit_config_last_reload_success_timestamp_seconds")
    eth = dict(account="b", account_type="UNIFIED", coin="ETH")
    assert sample(exporter.samples(), "bybit_coin_equity", **eth) is not None

    # SIGHUP: a removed, b now filtered to BTC, c added
    config.write_text(accounts_yaml(sim, [("b", "KB", ", coins: [BTC]"), ("c", "KC", "")]))
    exporter.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: accounts_up(exporter) == {"b": 1.0, "c": 1.0})
    wait_for(lambda: sample(exporter.samples(), "bybit_coin_equity", **eth) is None)
    samples = exporter.samples()
    assert not any(("account", "a") in labels for _, labels in samples)  # a's series vanished
    assert sample(samples, "bybit_config_last_reload_successful") == 1.0
    assert sample(samples, "bybit_config_last_reload_success_timestamp_seconds") > first_load

    # an invalid config is refused over HTTP, and the running one goes on
    config.write_text("accounts: []\n")
    answer = requests.post(exporter.url + "/-/reload", timeout=5)
    assert answer.status_code == 500 and "accounts: must be a non-empty list" in answer.text
    samples = exporter.samples()
    assert sample(samples, "bybit_config_last_reload_successful") == 0.0
    polls = sim.accounts["KC"].requests
    wait_for(lambda: sim.accounts["KC"].requests > polls + 2)
    assert accounts_up(exporter) == {"b": 1.0, "c": 1.0}

    config.write_text(accounts_yaml(sim, [("c", "KC", "")]))
    assert requests.post(exporter.url + "/-/reload", timeout=5).status_code == 200
    assert accounts_up(exporter) == {"c": 1.0}
    assert sample(exporter.samples(), "bybit_config_last_reload_successful") == 1.0
    assert requests.get(exporter.url + "/-/reload", timeout=5).status_code == 405  # as Prometheus: POST only
    assert exporter.stop() == 0
    assert "config reload refused" in exporter.output


def test_a_changed_account_keeps_its_money_flow_totals_without_storage(
        simulator, tmp_path, exporter_process):
    account = unified_account("KT", "S-KT")
    sim = simulator([account])
    account.ledger.transfer_in(sim.now_ms(), "USDT", "250")
    config = tmp_path / "config.yaml"
    config.write_text("transactions_since: 1h\nintervals: {transactions: 300ms}\n"
                      + accounts_yaml(sim, [("t", "KT", "")]))
    exporter = exporter_process(["--config.file", str(config)])
    transfers = dict(account="t", coin="USDT")
    wait_for(lambda: sample(exporter.samples(), "bybit_transfers_in_total", **transfers) == 250)
    config.write_text("intervals: {transactions: 300ms}\n"
                      + accounts_yaml(sim, [("t", "KT", ", coins: [USDT]")]))
    exporter.proc.send_signal(signal.SIGHUP)
    account.ledger.transfer_in(sim.now_ms() + 1000, "USDT", "5")
    wait_for(lambda: sample(exporter.samples(), "bybit_transfers_in_total", **transfers) == 255)
