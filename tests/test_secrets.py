"""No secret, anywhere: every error path at debug level, and nothing leaks to logs, exception
messages, --config.check output or /metrics."""

import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exporter.bybit.errors import PollError
from tests.conftest import REPO, unified_account
from tests.faults import FAULTS, FaultySimulator, faulty
from tests.test_client import make_client, wallet_balance

HMAC_SECRET = "hmac-secret-Zq81xPv"
FILE_SECRET = "file-secret-Wm29kLr"
ENV_SECRET = "env-secret-Hy73nBc"
API_KEYS = ["APIKEYHMAC0001", "APIKEYFILE0002", "APIKEYRSA00003", "APIKEYENV00004"]


def rsa_pair():
    key = rsa.generate_private_key(65537, 2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def secret_fragments(private_pem):
    body = [line for line in private_pem.splitlines() if line and not line.startswith("-----")]
    return [HMAC_SECRET, FILE_SECRET, ENV_SECRET, *API_KEYS, *body]


def assert_clean(text, fragments, where):
    leaked = [f for f in fragments if f in text]
    assert not leaked, f"{where} shows {leaked[0][:12]}..."


KINDS = ("hmac", "file", "rsa", "env")


@pytest.fixture
def setup(tmp_path):
    """One account per fault, with the four kinds of credential in turn, plus two whose key
    the server no longer accepts (Bybit's 10004 answer echoes the signed string)."""
    private, public = rsa_pair()
    other_public = rsa_pair()[1]
    (tmp_path / "secret.txt").write_text(FILE_SECRET + "\n")
    (tmp_path / "rsa.pem").write_text(private)
    server_secret = {"hmac": HMAC_SECRET, "file": FILE_SECRET, "env": ENV_SECRET}
    plans = [(f"f{i:02d}", KINDS[i % 4], fault) for i, fault in enumerate(FAULTS)]
    plans += [("rotated-hmac", "hmac", None), ("rotated-rsa", "rsa", None)]
    accounts, entries = [], []
    for index, (name, kind, fault) in enumerate(plans):
        key = API_KEYS[KINDS.index(kind)] if kind == "env" else f"APIKEY{index:08d}"
        account = faulty(unified_account(key, server_secret.get(kind, "unused")), fault)
        if kind == "rsa":
            account.secret, account.rsa_public_pem = None, public
        if name == "rotated-hmac":
            account.secret = "rotated-on-the-server"
        if name == "rotated-rsa":
            account.rsa_public_pem = other_public
        accounts.append(account)
        entries.append((name, kind, key))
    sim = FaultySimulator(accounts).start()
    credential = {"hmac": f"api_secret: {HMAC_SECRET}", "file": "api_secret_file: secret.txt",
                  "rsa": "rsa_private_key_file: rsa.pem", "env": "api_secret: ${THE_SECRET}"}
    lines = ["poll_interval: 500ms", "timeout: 500ms", "accounts:"]
    for name, kind, key in entries:
        api_key = "${THE_KEY}" if kind == "env" else key
        lines += [f"  - name: {name}", f"    api_key: {api_key}", f"    {credential[kind]}",
                  f"    endpoint: '{sim.url}'"]
    config = tmp_path / "config.yaml"
    config.write_text("\n".join(lines) + "\n")
    env = {"THE_KEY": API_KEYS[3], "THE_SECRET": ENV_SECRET}
    fragments = secret_fragments(private) + [key for _, _, key in entries]
    yield sim, accounts, config, env, fragments, private
    sim.stop()


def test_every_failure_at_debug_level_leaks_nothing(setup, exporter_process):
    sim, accounts, config, env, fragments, _ = setup
    sim.hang_seconds, sim.slow_seconds = 1.0, 0.1
    exporter = exporter_process(["--config.file", str(config), "--log.level", "debug"], env=env)
    exporter.wait_ready()
    scraped = [exporter.metrics_text()]
    sim.clock_offset_ms = 60_000  # 10002, and a market-time endpoint that does not help
    sim.time_endpoint_offset_ms = -60_000
    time.sleep(1.5)
    scraped.append(exporter.metrics_text())
    exporter.stop()
    for code in (10002, 10003, 10004, 10005, 10006, 10010, 33004):
        assert f"ret_code={code}" in exporter.output, code
    for reason in ("timeout", "network", "http", "invalid_response", "rate_limit", "auth",
                   "permission"):
        assert f"reason={reason}" in exporter.output, reason
    assert "error sign" in exporter.output  # Bybit's echo was logged, with the key blanked
    assert_clean(exporter.output, fragments, "the debug log")
    assert_clean("".join(scraped), fragments, "/metrics")


def test_client_exceptions_carry_no_secret(setup):
    sim, accounts, _, _, fragments, private = setup
    sim.hang_seconds = 1.0
    hmac_account = next(a for a in accounts if a.secret == HMAC_SECRET)
    rsa_account = next(a for a in accounts if a.rsa_public_pem and a.api_key != "APIKEY00000019")
    clients = [make_client(sim.url, key=hmac_account.api_key, secret=HMAC_SECRET, timeout=0.5),
               make_client(sim.url, key=rsa_account.api_key, rsa_pem=private, timeout=0.5)]
    for fault in (None, *FAULTS):
        hmac_account.fault = rsa_account.fault = fault
        for client in clients:
            try:
                wallet_balance(client, "UNIFIED")
            except PollError as exc:
                assert_clean(f"{exc} {exc!r} {exc.message} {client.account!r}", fragments,
                             f"the {fault} error")


def test_config_check_and_config_errors_show_no_secret(setup, tmp_path):
    _, _, config, env, fragments, _ = setup

    def run(*args):
        result = subprocess.run([sys.executable, "-m", "exporter", *args], cwd=REPO,
                                env={"PATH": "/usr/bin:/bin", **env}, capture_output=True,
                                text=True, timeout=30)
        return result.returncode, result.stdout + result.stderr

    code, output = run("--config.check", "--config.file", str(config), "--log.level", "debug")
    assert code == 0 and "rotated-rsa: types=UNIFIED" in output and "key=rsa" in output
    assert_clean(output, fragments, "--config.check")
    broken = tmp_path / "broken.yaml"
    broken.write_text(config.read_text().replace("poll_interval: 500ms", "poll_interval: soon")
                      .replace("    endpoint:", "    colour: red\n    endpoint:", 1))
    code, output = run("--config.check", "--config.file", str(broken))
    assert code == 2 and "poll_interval" in output and "colour" in output
    assert_clean(output, fragments, "config errors")
