"""The Bybit client against the simulated Bybit over real HTTP: signing, clock, classification."""

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exporter.bybit.budget import RequestBudget
from exporter.bybit.client import BybitClient
from exporter.bybit.clock import ServerClock
from exporter.bybit.endpoints import wallet
from exporter.bybit.errors import PollError
from exporter.config import Account, Secret
from exporter.simulator import SimAccount
from tests.conftest import free_port, unified_account


def make_client(endpoint, key="K1", secret="S1", coins=(), rsa_pem=None, types=("UNIFIED",),
                timeout=5.0, recv_window_ms=5000, budget=None):
    account = Account(name="a", api_key=Secret(key), api_secret=None if rsa_pem else Secret(secret),
                      rsa_private_key=Secret(rsa_pem) if rsa_pem else None, account_types=types,
                      coins=tuple(coins), endpoint=endpoint, recv_window_ms=recv_window_ms,
                      poll_interval=1.0)
    return BybitClient(account, ServerClock(endpoint), budget or RequestBudget(), timeout)


def wallet_balance(client, account_type):
    coins = "&coin=" + ",".join(client.account.coins) if client.account.coins else ""
    return client.get(wallet.ENDPOINT.path, f"accountType={account_type}{coins}")


def coin_names(response):
    return [c["coin"] for c in response.payload["result"]["list"][0]["coin"]]


def test_signed_request_with_a_coin_filter_sends_the_comma_it_signed(simulator):
    sim_account = unified_account("K1", "S1")
    sim = simulator([sim_account])
    response = wallet_balance(make_client(sim.url, coins=("BTC", "USDT")), "UNIFIED")
    assert sim_account.queries == ["accountType=UNIFIED&coin=BTC,USDT"]
    assert coin_names(response) == ["BTC", "USDT"]
    assert response.rate_limit_remaining == 49


def test_rsa_key_is_accepted_by_a_server_holding_the_public_half(simulator):
    key = rsa.generate_private_key(65537, 2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    sim_account = unified_account("RSAKEY", "unused")
    sim_account.secret, sim_account.rsa_public_pem = None, public
    sim = simulator([sim_account])
    assert coin_names(wallet_balance(make_client(sim.url, key="RSAKEY", rsa_pem=private),
                                     "UNIFIED"))


@pytest.mark.parametrize("key, secret, code", [("UNKNOWN", "S1", 10003), ("K1", "wrong", 10004)])
def test_bad_credentials_are_auth_errors_and_the_key_is_not_echoed(simulator, key, secret, code):
    sim = simulator([unified_account("K1", "S1")])
    with pytest.raises(PollError) as caught:
        wallet_balance(make_client(sim.url, key=key, secret=secret), "UNIFIED")
    assert (caught.value.reason, caught.value.ret_code) == ("auth", code)
    assert key not in caught.value.message and secret not in caught.value.message


def test_revoked_key(simulator):
    account = unified_account("K1", "S1")
    sim = simulator([account])
    client = make_client(sim.url)
    wallet_balance(client, "UNIFIED")
    account.revoked = True
    with pytest.raises(PollError) as caught:
        wallet_balance(client, "UNIFIED")
    assert (caught.value.reason, caught.value.ret_code) == ("auth", 10003)


@pytest.mark.parametrize("offset_ms", [8000, -3000, -60000])
def test_clock_skew_is_measured_and_corrected_on_10002(simulator, offset_ms):
    sim = simulator([unified_account("K1", "S1")])
    client = make_client(sim.url)
    wallet_balance(client, "UNIFIED")  # synced while the clocks agree
    sim.clock_offset_ms = offset_ms
    wallet_balance(client, "UNIFIED")  # refused once with 10002, resynced, then accepted
    assert abs(client.clock.offset_ms - offset_ms) < 500


def test_a_request_that_waited_for_the_budget_longer_than_recv_window_is_accepted(simulator):
    """Stamped and signed when the budget lets it go, not before its wait: at a fund's start
    requests wait for the budget for seconds."""
    sim = simulator([unified_account("K1", "S1")])
    budget = RequestBudget(limit=1, window=1.5)  # the clock sync takes the one slot first
    client = make_client(sim.url, recv_window_ms=1000, budget=budget)
    started = time.monotonic()
    assert coin_names(wallet_balance(client, "UNIFIED"))
    assert time.monotonic() - started >= 1.5  # it did wait, longer than its recv_window
    assert sim.ret_codes[10002] == 0


def test_an_account_type_the_account_lacks_is_an_api_error(simulator):
    sim = simulator([unified_account("K1", "S1")])
    with pytest.raises(PollError) as caught:
        wallet_balance(make_client(sim.url), "CONTRACT")
    assert (caught.value.reason, caught.value.ret_code) == ("api", 10001)
    assert "only support UNIFIED" in caught.value.message


def test_per_uid_rate_limit_is_classified_with_a_retry_time(simulator):
    sim = simulator([unified_account("K1", "S1")])
    client = make_client(sim.url)
    with pytest.raises(PollError) as caught:
        for _ in range(60):  # told a limit above Bybit's, the client outruns it
            client.get(wallet.ENDPOINT.path, "accountType=UNIFIED", uid_limit_per_second=1000)
    assert (caught.value.reason, caught.value.ret_code) == ("rate_limit", 10006)
    assert 0 <= caught.value.retry_after <= 1.5


def test_calls_to_one_endpoint_keep_within_its_per_uid_limit(simulator):
    sim = simulator([unified_account("K1", "S1")])
    client = make_client(sim.url)
    for _ in range(60):  # 60 calls against a limit of 50 per second: spaced, never refused
        wallet_balance(client, "UNIFIED")
    assert sim.ret_codes[10006] == 0


@pytest.mark.parametrize("bybit_ahead_seconds", [20, -20])
def test_the_rate_limit_reset_time_is_read_on_bybits_clock(simulator, bybit_ahead_seconds):
    sim = simulator([unified_account("K1", "S1")])
    sim.clock_offset_ms = bybit_ahead_seconds * 1000
    client = make_client(sim.url)
    wallet_balance(client, "UNIFIED")  # measures Bybit's clock
    with pytest.raises(PollError) as caught:
        for _ in range(60):
            client.get(wallet.ENDPOINT.path, "accountType=UNIFIED", uid_limit_per_second=1000)
    # the reset is under a second away on Bybit's clock, whichever way the host clock is off
    assert caught.value.reason == "rate_limit"
    assert 0 < caught.value.retry_after <= 1.5


def test_connection_refused_is_a_network_error():
    with pytest.raises(PollError) as caught:
        wallet_balance(make_client(f"http://127.0.0.1:{free_port()}"), "UNIFIED")
    assert caught.value.reason == "network"
    assert caught.value.message == "Connection refused"


def test_wrong_path_is_an_http_error(simulator):
    sim = simulator([SimAccount(api_key="K1", secret="S1", wallets={})])
    with pytest.raises(PollError) as caught:
        wallet_balance(make_client(sim.url + "/nope"), "UNIFIED")
    assert (caught.value.reason, caught.value.message) == ("http", "HTTP 404")
