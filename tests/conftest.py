"""Shared helpers: the in-repo simulated Bybit and the real exporter process."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from exporter.simulator import BybitSimulator, Holding, SimAccount, calm_rate, unified_wallet

REPO = Path(__file__).resolve().parent.parent


def debian_tool(command: str, package: str) -> str:
    """The path of a command a Debian package brings: a failure under CI (where .ci/run must
    have installed it), a skip on a developer's machine without it."""
    path = shutil.which(command)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{command} is missing: .ci/run must install Debian's {package} package")
        pytest.skip(f"{command} not installed (apt-get install {package})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05):
    """Poll until `condition()` is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last error: {last_error!r})")


class Overlap:
    """How many callers are inside at once, and the most there ever were: `with overlap:`."""

    def __init__(self) -> None:
        self.inside = self.most = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.inside -= 1


def parse_samples(text: str) -> dict[tuple, float]:
    """{(name, (("label", "value"), ...)): value} for every sample of an exposition."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def unified_account(api_key: str, secret: str, coins=None) -> SimAccount:
    holdings = coins or [Holding("BTC", 1.5, 60000), Holding("USDT", 1000, 1.0, swing=0.0),
                         Holding("ETH", 2.0, 3000)]
    return SimAccount(api_key=api_key, secret=secret,
                      wallets={"UNIFIED": unified_wallet(holdings, calm_rate)})


@pytest.fixture
def simulator():
    sims = []

    def start(accounts: list[SimAccount]) -> BybitSimulator:
        sim = BybitSimulator(accounts).start()
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()


class ExporterProcess:
    """`python -m exporter` as a user runs it, on a free loopback port."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, **(env or {})}
        # a file, not a pipe: a pipe nobody reads fills up and blocks the exporter's logging
        self._log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--web.listen-address", f"127.0.0.1:{self.port}",
             *args],
            cwd=REPO, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, text=True)
        self.output = ""

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=5, **kwargs)

    def wait_ready(self, timeout: float = 15.0) -> None:
        wait_for(lambda: self.get("/-/ready").status_code == 200, timeout)

    def metrics_text(self) -> str:
        response = self.get("/metrics")
        response.raise_for_status()
        return response.text

    def samples(self) -> dict[tuple, float]:
        return parse_samples(self.metrics_text())

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.seek(0)
        self.output = self._log.read()
        return self.proc.returncode


@pytest.fixture
def exporter_process():
    started = []

    def start(args: list[str], env: dict[str, str] | None = None) -> ExporterProcess:
        process = ExporterProcess(args, env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def wallet_view(translation) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """A wallet-balance translation as (account totals by metric, {coin: values by metric})."""
    totals: dict[str, float] = {}
    coins: dict[str, dict[str, float]] = {}
    for item in translation.samples:
        if item.labels:
            coins.setdefault(item.labels[0], {})[item.family.name] = item.value
        else:
            totals[item.family.name] = item.value
    return totals, coins
