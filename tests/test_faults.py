"""Fault injection: the real exporter process against a simulated Bybit that misbehaves on
purpose, one fault per account, all at once, beside healthy accounts that must not notice."""

import math
import textwrap
import time

import pytest

from exporter.simulator import BybitSimulator, Holding, SimAccount, classic_wallet
from tests.conftest import free_port, parse_samples, sample, unified_account, wait_for
from tests.faults import FAULTS, FaultySimulator, faulty

POLL, TIMEOUT, STALE_AFTER = 0.3, 1.0, 5.0
FAULT_SECONDS = STALE_AFTER + 1.5

# fault -> the reason it must be reported as (None: the exporter copes, the account stays up)
CASES = {
    "hang": "timeout", "slow": None, "http:500": "http", "http:502": "http",
    "ip_ban": "rate_limit", "not_found": "http", "truncated": "invalid_response",
    "result_null": "invalid_response", "list_empty": "invalid_response",
    "garbage": None, "rate_limit": "rate_limit", "rate_limit_bare": "rate_limit",
    "ret:10003": "auth", "ret:10004": "auth", "ret:10005": "permission", "ret:10010": "auth",
    "ret:33004": "auth", "reset": "network",
}
# faults that must be backed off, not hammered: the most requests allowed while they last
# (polling every 0.3 s without back-off would send about 20)
BACKED_OFF = {"ip_ban": 1, "rate_limit": 5, "rate_limit_bare": 5, "ret:10003": 5,
              "ret:10004": 5, "ret:10005": 5, "ret:10010": 5, "ret:33004": 5}
RECOVERS_LATER = {"ip_ban"}  # Bybit bans an IP for 10 minutes: retried after that


def name_of(fault: str) -> str:
    return "f-" + fault.replace(":", "-").replace("_", "-")


class World:
    """The simulators and the exporter config that points at them."""

    def __init__(self, tmp_path):
        self.accounts = {"healthy-a": unified_account("HEALTHYA", "secret-a"),
                         "healthy-b": unified_account("HEALTHYB", "secret-b")}
        self.accounts["classic"] = SimAccount(api_key="CLASSIC", secret="secret-c", wallets={
            "CONTRACT": classic_wallet("CONTRACT", [Holding("XRP", 10, 0.5)])})
        for index, fault in enumerate(CASES):
            self.accounts[name_of(fault)] = faulty(unified_account(f"FAULT{index:02d}",
                                                                   f"secret-{index}"))
        self.main = FaultySimulator(list(self.accounts.values())).start()
        self.main.hang_seconds, self.main.slow_seconds = 2.5, 0.6
        self.side = {}  # one account each, for faults of a whole server
        for name in ("refused", "clock-ahead", "clock-behind", "clock-liar"):
            self.side[name] = BybitSimulator([unified_account(name.upper(), "side-secret")]).start()
        self.config = tmp_path / "config.yaml"
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        lines = [f"poll_interval: {POLL}", f"timeout: {TIMEOUT}", f"stale_after: {STALE_AFTER}",
                 "accounts:"]
        for name, account in self.accounts.items():
            types = list(account.wallets)
            lines.append(f"  - {{name: {name}, api_key: {account.api_key}, api_secret: "
                         f"{account.secret}, account_types: {types}, endpoint: '{self.main.url}'}}")
        for name, sim in self.side.items():
            lines.append(f"  - {{name: {name}, api_key: {name.upper()}, api_secret: side-secret, "
                         f"endpoint: '{sim.url}'}}")
        return "\n".join(lines) + "\n"

    def start_faults(self) -> None:
        for fault in CASES:
            self.accounts[name_of(fault)].fault = fault
        self.side["refused"].stop()
        self.side["clock-ahead"].clock_offset_ms = 8000
        self.side["clock-behind"].clock_offset_ms = -3000
        liar = self.side["clock-liar"]
        liar.clock_offset_ms, liar.time_endpoint_offset_ms = 8000, -8000

    def clear_faults(self) -> None:
        for fault in CASES:
            self.accounts[name_of(fault)].fault = None
        port = int(self.side["refused"].url.rsplit(":", 1)[1])
        self.side["refused"] = BybitSimulator([unified_account("REFUSED", "side-secret")],
                                              port=port).start()
        self.side["clock-liar"].time_endpoint_offset_ms = 0

    def stop(self) -> None:
        for sim in [self.main, *self.side.values()]:
            try:
                sim.stop()
            except OSError:
                pass


def test_every_fault_has_a_case():
    assert set(CASES) == set(FAULTS)


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.stop()


def up(samples, account, account_type="UNIFIED"):
    return sample(samples, "bybit_up", account=account, account_type=account_type)


def errors(samples, account, reason):
    return sample(samples, "bybit_poll_errors_total", account=account, account_type="UNIFIED",
                  reason=reason)


def equity(samples, account):
    return sample(samples, "bybit_account_equity_usd", account=account, account_type="UNIFIED")


def timed_samples(exporter, slowest):
    started = time.monotonic()
    text = exporter.metrics_text()
    slowest.append(time.monotonic() - started)
    samples = parse_samples(text)
    bad = [key for key, value in samples.items() if not math.isfinite(value)]
    assert not bad, f"non-finite values exported: {bad[:3]}"
    return samples


def test_every_fault_gets_its_designed_answer(world, exporter_process):
    exporter = exporter_process(["--config.file", str(world.config), "--log.level", "debug"])
    exporter.wait_ready()
    everyone = list(world.accounts) + list(world.side)
    wait_for(lambda: all(up(exporter.samples(), a, "CONTRACT" if a == "classic" else "UNIFIED")
                         == 1.0 for a in everyone), timeout=15)
    healthy_equity = equity(exporter.samples(), "healthy-a")
    assert healthy_equity > 0

    sent_before = {name: account.requests for name, account in world.accounts.items()}
    world.start_faults()
    fault_started, slowest = time.monotonic(), []
    while time.monotonic() - fault_started < FAULT_SECONDS:
        samples = timed_samples(exporter, slowest)
        assert up(samples, "healthy-a") == 1.0 and up(samples, "healthy-b") == 1.0
        assert equity(samples, "healthy-b") > 0
        # the classic account's wallet-balance fields are "": never exported as 0 (its margin
        # mode, bybit_account_info from account info, is another matter)
        assert not any(name.startswith("bybit_account_") and name != "bybit_account_info"
                       and ("account", "classic") in labels for name, labels in samples)
        time.sleep(0.1)
    assert max(slowest) < 0.5, f"a scrape took {max(slowest):.2f}s during the faults"

    samples = timed_samples(exporter, slowest)
    for fault, reason in CASES.items():
        account = name_of(fault)
        if reason is None:
            assert up(samples, account) == 1.0, fault
            continue
        assert up(samples, account) == 0.0, fault
        assert errors(samples, account, reason) >= 1, (fault, reason)
        assert sample(samples, "bybit_poll_failing", account=account, account_type="UNIFIED",
                      reason=reason) == 1.0, fault
        others = {r: errors(samples, account, r) for r in CASES.values() if r and r != reason}
        assert not any(others.values()), (fault, others)
        # stale_after has passed: the last good values are gone, the health series stay
        assert equity(samples, account) is None, fault
        assert sample(samples, "bybit_last_success_timestamp_seconds", account=account,
                      account_type="UNIFIED") is not None
    for fault, most in BACKED_OFF.items():
        sent = world.accounts[name_of(fault)].requests - sent_before[name_of(fault)]
        assert sent <= most, f"{fault}: {sent} requests during the fault, at most {most} allowed"
    assert up(samples, "refused") == 0.0 and errors(samples, "refused", "network") >= 1
    for healed in ("clock-ahead", "clock-behind"):  # Bybit's clock moved: measured again
        assert up(samples, healed) == 1.0 and errors(samples, healed, "clock") == 0
        assert world.side[healed].ret_codes[10002] >= 1
    assert up(samples, "clock-liar") == 0.0 and errors(samples, "clock-liar", "clock") >= 1
    # garbage numbers lose their own series only: the margin rate stays, the rest is counted
    garbage = dict(account=name_of("garbage"), account_type="UNIFIED")
    assert sample(samples, "bybit_invalid_fields", **garbage) >= 3
    assert sample(samples, "bybit_account_maintenance_margin_ratio", **garbage) is not None
    assert equity(samples, name_of("garbage")) is None  # its totalEquity was NaN

    world.clear_faults()
    recovering = [name_of(f) for f, r in CASES.items() if r and f not in RECOVERS_LATER]
    wait_for(lambda: all(up(exporter.samples(), a) == 1.0
                         for a in recovering + ["refused", "clock-liar"]), timeout=20)
    samples = exporter.samples()
    assert all(equity(samples, a) > 0 for a in recovering)
    assert not any(name == "bybit_poll_failing" and ("account", a) in labels
                   for name, labels in samples for a in recovering)
    assert up(samples, name_of("ip_ban")) == 0.0  # still waiting out the ban
    assert exporter.stop() == 0
    for secret in ["secret-a", "secret-b", "HEALTHYA", "FAULT04", "side-secret"]:
        assert secret not in exporter.output


@pytest.fixture
def faulty_simulator():
    sims = []

    def start(accounts):
        sims.append(FaultySimulator(accounts).start())
        return sims[-1]

    yield start
    for sim in sims:
        sim.stop()


def test_a_bybit_that_hangs_does_not_slow_scrapes_or_stop(faulty_simulator, tmp_path,
                                                          exporter_process):
    account = faulty(unified_account("K1", "S1"))
    sim = faulty_simulator([account])
    sim.hang_seconds = 5.0
    config = tmp_path / "c.yaml"
    config.write_text(textwrap.dedent(f"""
        poll_interval: 200ms
        timeout: 1s
        accounts: [{{name: a, api_key: K1, api_secret: S1, endpoint: '{sim.url}'}}]
    """))
    exporter = exporter_process(["--config.file", str(config)])
    exporter.wait_ready()
    account.fault = "hang"
    time.sleep(1.5)
    slowest = []
    for _ in range(10):
        timed_samples(exporter, slowest)
    assert max(slowest) < 0.5
    started = time.monotonic()
    assert exporter.stop() == 0
    assert time.monotonic() - started < 2.0


def test_refused_from_the_start_is_reported_and_ready(tmp_path, exporter_process):
    config = tmp_path / "c.yaml"
    config.write_text(f"accounts: [{{name: a, api_key: K, api_secret: S, "
                      f"endpoint: 'http://127.0.0.1:{free_port()}'}}]\n")
    exporter = exporter_process(["--config.file", str(config)])
    exporter.wait_ready()
    samples = exporter.samples()
    assert up(samples, "a") == 0.0 and errors(samples, "a", "network") == 1.0
