"""The real exporter process against the simulated Bybit over real HTTP."""

import subprocess
import textwrap
import time

import pytest

from exporter.simulator import Holding, SimAccount, classic_wallet
from tests.conftest import debian_tool, sample, unified_account, wait_for

SECRETS = {"GOOD_KEY": "GOODKEY0001", "GOOD_SECRET": "good-secret-0001-xyz",
           "CLASSIC_SECRET": "classic-secret-0002-xyz", "REVOKED_SECRET": "revoked-secret-0003-xyz"}


def promtool() -> str:
    return debian_tool("promtool", "prometheus")


@pytest.fixture
def fleet(simulator, tmp_path):
    """Three accounts: a unified one with a coin filter, a classic one, and a revoked key."""
    good = unified_account("GOODKEY0001", SECRETS["GOOD_SECRET"])
    classic = SimAccount(api_key="CLASSICKEY02", secret=SECRETS["CLASSIC_SECRET"], wallets={
        "SPOT": classic_wallet("SPOT", [Holding("BTC", 0.5, 60000)]),
        "CONTRACT": classic_wallet("CONTRACT", [Holding("XRP", 100, 0.5)])})
    revoked = unified_account("REVOKEDKEY03", SECRETS["REVOKED_SECRET"])
    revoked.revoked = True
    sim = simulator([good, classic, revoked])
    (tmp_path / "classic.secret").write_text(SECRETS["CLASSIC_SECRET"] + "\n")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        poll_interval: 500ms
        timeout: 2s
        stale_after: 30s
        accounts:
          - name: good
            api_key: ${{GOOD_KEY}}
            api_secret: ${{GOOD_SECRET}}
            coins: [BTC, USDT]
            endpoint: {sim.url}
          - name: classic
            api_key: CLASSICKEY02
            api_secret_file: classic.secret
            account_types: [SPOT, CONTRACT]
            endpoint: {sim.url}
          - name: revoked
            api_key: REVOKEDKEY03
            api_secret: {SECRETS["REVOKED_SECRET"]}
            endpoint: {sim.url}
    """))
    return sim, good, classic, revoked, config


def test_several_accounts_one_revoked(fleet, exporter_process):
    sim, good, _, revoked, config = fleet
    exporter = exporter_process(["--config.file", str(config), "--log.level", "debug"],
                                env=SECRETS)
    exporter.wait_ready()
    samples = exporter.samples()
    assert sample(samples, "bybit_up", account="good", account_type="UNIFIED") == 1.0
    assert sample(samples, "bybit_up", account="classic", account_type="SPOT") == 1.0
    assert sample(samples, "bybit_up", account="classic", account_type="CONTRACT") == 1.0
    assert sample(samples, "bybit_up", account="revoked", account_type="UNIFIED") == 0.0
    assert sample(samples, "bybit_poll_errors_total", account="revoked", account_type="UNIFIED",
                  reason="auth") == 1.0
    assert not any(("account", "revoked") in labels for name, labels in samples
                   if name.startswith("bybit_coin_") or name.startswith("bybit_account_"))
    # the coin filter went out as signed, with a raw comma, and only those coins came back
    assert good.queries[0] == "accountType=UNIFIED&coin=BTC,USDT"
    coins = {dict(labels).get("coin") for name, labels in samples
             if name == "bybit_coin_equity" and ("account", "good") in labels}
    assert coins == {"BTC", "USDT"}
    assert sample(samples, "bybit_coin_wallet_balance", account="classic", account_type="SPOT",
                  coin="BTC") == pytest.approx(0.5, rel=0.02)
    # the revoked key is backed off, not hammered, while the others keep polling
    polls_before = good.requests
    time.sleep(2)
    assert good.requests >= polls_before + 3
    assert revoked.requests <= 3  # tried after 1 s, then 2 s: not every 0.5 s
    assert exporter.stop() == 0
    for secret in ("good-secret-0001-xyz", "classic-secret-0002-xyz", "revoked-secret-0003-xyz",
                   "GOODKEY0001", "REVOKEDKEY03"):
        assert secret not in exporter.output
    assert "reason=auth" in exporter.output and "ret_code=10003" in exporter.output


def test_coin_disappears_and_clock_skew_recovers(fleet, exporter_process):
    sim, good, _, _, config = fleet
    exporter = exporter_process(["--config.file", str(config)], env=SECRETS)
    exporter.wait_ready()
    labels = dict(account="good", account_type="UNIFIED", coin="USDT")
    assert sample(exporter.samples(), "bybit_coin_equity", **labels) is not None
    good.hidden_coins.add("USDT")
    wait_for(lambda: sample(exporter.samples(), "bybit_coin_equity", **labels) is None)
    assert sample(exporter.samples(), "bybit_coin_equity", account="good",
                  account_type="UNIFIED", coin="BTC") is not None

    sim.clock_offset_ms = 8000  # Bybit's clock jumps 8 s ahead of ours
    refused_before = good.requests
    wait_for(lambda: good.requests >= refused_before + 4)
    assert sim.ret_codes[10002] >= 1  # refused at least once: the skew was real
    samples = exporter.samples()
    assert sample(samples, "bybit_up", account="good", account_type="UNIFIED") == 1.0
    assert sample(samples, "bybit_poll_errors_total", account="good", account_type="UNIFIED",
                  reason="clock") == 0.0


def test_metrics_pass_promtool_and_endpoints_answer(fleet, exporter_process):
    *_, config = fleet
    exporter = exporter_process(["--config.file", str(config)], env=SECRETS)
    exporter.wait_ready()
    text = exporter.metrics_text()
    checked = subprocess.run([promtool(), "check", "metrics"], input=text, text=True,
                             capture_output=True)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked
    assert "bybit_account_equity_usd{account=\"good\",account_type=\"UNIFIED\"}" in text
    assert text.count("# TYPE bybit_up gauge") == 1
    landing = exporter.get("/")
    assert landing.status_code == 200 and 'href="metrics"' in landing.text
    assert exporter.get("/-/healthy").status_code == 200
    assert exporter.get("/nope").status_code == 404
    gzipped = exporter.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip" and "bybit_up" in gzipped.text
    for secret in SECRETS.values():
        assert secret not in text


def test_not_ready_until_first_poll_and_sigterm_stops_fast(simulator, tmp_path, exporter_process):
    slow = unified_account("K1", "S1")
    original = slow.wallets["UNIFIED"]

    def slow_wallet(t):
        time.sleep(1.5)
        return original(t)

    slow.wallets["UNIFIED"] = slow_wallet
    sim = simulator([slow])
    config = tmp_path / "c.yaml"
    config.write_text("poll_interval: 500ms\n"
                      f"accounts: [{{name: a, api_key: K1, api_secret: S1, endpoint: '{sim.url}'}}]\n")
    exporter = exporter_process(["--config.file", str(config)])
    wait_for(lambda: exporter.get("/-/healthy").status_code == 200)
    assert exporter.get("/-/ready").status_code == 503
    exporter.wait_ready()
    time.sleep(0.8)  # the next poll is now waiting on the slow server
    started = time.monotonic()
    assert exporter.stop() == 0
    assert time.monotonic() - started < 2.0


def test_demo_mode_serves_its_accounts(exporter_process):
    exporter = exporter_process(["--demo"])
    exporter.wait_ready()
    samples = exporter.samples()
    ups = {dict(labels)["account"]: value for (name, labels), value in samples.items()
           if name == "bybit_up"}
    assert ups == {"demo-unified": 1.0, "demo-classic": 1.0, "demo-leveraged": 1.0,
                   "demo-isolated": 1.0, "demo-options": 1.0}
    assert sample(samples, "bybit_coin_equity", account="demo-unified", account_type="UNIFIED",
                  coin="SOL") < 0
    assert 0.4 < sample(samples, "bybit_account_maintenance_margin_ratio",
                        account="demo-leveraged", account_type="UNIFIED") < 0.95
