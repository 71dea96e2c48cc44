"""Fund-scale benchmark: the real exporter process against the simulated Bybit.

    python benchmarks/bench.py            # about 3 minutes
    python benchmarks/bench.py --quick    # fewer runs and a shorter CPU window

Prints each figure beside its target or its stock baseline. Ratios compare two things measured
in the same run on the same machine, so they hold on a noisy shared host where wall times don't.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from prometheus_client import generate_latest, start_http_server  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from exporter.bybit.budget import RequestBudget  # noqa: E402
from exporter.bybit.client import BybitClient, ServerClock  # noqa: E402
from exporter.collection import AccountPoller  # noqa: E402
from exporter.config import Account, Secret  # noqa: E402
from exporter.metrics import build_registry  # noqa: E402
from exporter.simulator import BybitSimulator, Holding, SimAccount, calm_rate, unified_wallet  # noqa: E402
from exporter.store import Store  # noqa: E402

PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fleet(accounts: int, coins: int, latency: float = 0.0):
    """Simulated accounts with `coins` coins each, and the exporter's view of them."""
    holdings = [Holding(f"C{i:03d}", 10.0 + i, 1.0 + i) for i in range(coins)]
    wallet = unified_wallet(holdings, calm_rate)
    sim_accounts, names = [], []
    for i in range(accounts):
        sim_accounts.append(SimAccount(api_key=f"BENCHKEY{i:06d}", secret=secrets.token_hex(16),
                                       wallets={"UNIFIED": wallet}, latency=latency))
        names.append(f"acct-{i:04d}")
    return sim_accounts, names


def write_config(path: Path, sim: BybitSimulator, sim_accounts, names, interval: str) -> None:
    lines = [f"poll_interval: {interval}", "timeout: 10s", "stale_after: 2h", "accounts:"]
    for account, name in zip(sim_accounts, names):
        lines += [f"  - name: {name}", f"    api_key: {account.api_key}",
                  f"    api_secret: {account.secret}", f"    endpoint: {sim.url}"]
    path.write_text("\n".join(lines) + "\n")


class Exporter:
    def __init__(self, config: Path):
        self.port = free_port()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{self.port}", "--log.level", "warning"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 120, path: str = "/-/ready") -> float:
        """Seconds from the process start until `path` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if get(self.port, path, {})[0] == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"exporter: no 200 on {path} in time")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def get(port: int, path: str, headers: dict) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def timed_scrape(port: int) -> float:
    started = time.perf_counter()
    status, body, _ = get(port, "/metrics", PROMETHEUS_HEADERS)
    assert status == 200 and body
    return time.perf_counter() - started


def decode(body: bytes, headers: dict) -> str:
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return body.decode()


def sample_keys(text: str) -> set:
    return {(s.name, tuple(sorted(s.labels.items())))
            for family in text_string_to_metric_families(text) for s in family.samples
            if not s.name.startswith("process_")}


def stock_server(sim: BybitSimulator, sim_accounts, names):
    """prometheus_client's own server and a custom collector over the same accounts."""
    store = Store(stale_after=7200)
    budget = RequestBudget()
    clock = ServerClock(sim.url, 10, budget)
    accounts = [Account(name=n, api_key=Secret(a.api_key), api_secret=Secret(a.secret),
                        rsa_private_key=None, account_types=("UNIFIED",), coins=(),
                        endpoint=sim.url, recv_window_ms=5000, poll_interval=3600)
                for a, n in zip(sim_accounts, names)]
    store.set_targets({(a.name, "UNIFIED"): 3600.0 for a in accounts})
    for account in accounts:
        AccountPoller(BybitClient(account, clock, budget, 10), store).poll()
    store.set_reload_result(True, time.time())  # as the exporter does at start
    registry = build_registry(store)
    port = free_port()
    start_http_server(port, addr="127.0.0.1", registry=registry)
    return port, registry


def report(name: str, value: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("PASS" if ok else "FAIL")
    print(f"  {name:<52} {value:>22}   {target:<28} {verdict}", flush=True)


@contextlib.contextmanager
def running(tmp: Path, accounts: int, coins: int, interval: str, latency: float = 0.0):
    """The simulated Bybit with `accounts` x `coins`, and the exporter process polling it."""
    sim_accounts, names = fleet(accounts, coins, latency)
    sim = BybitSimulator(sim_accounts).start()
    config = tmp / f"bench-{accounts}x{coins}.yaml"
    write_config(config, sim, sim_accounts, names, interval)
    exporter = Exporter(config)
    try:
        yield sim, sim_accounts, names, exporter
    finally:
        exporter.stop()
        sim.stop()


def max_in_window(times, window: float = 5.0) -> int:
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def bench_scrape(tmp: Path, runs: int) -> None:
    print("\n== scrape: 200 accounts x 30 coins, Prometheus' request headers", flush=True)
    # polled every 10 s: about 20 polls land every second, so a scrape that waits 0.15 s
    # always finds a changed exposition (nothing cached), the next one right after it may not
    with running(tmp, 200, 30, "10s") as (sim, sim_accounts, names, exporter):
        exporter.wait_ready()
        stock_port, registry = stock_server(sim, sim_accounts, names)
        fresh, cached, stock = [], [], []
        for _ in range(runs):  # interleaved, so all three see the same machine load
            time.sleep(0.15)
            fresh.append(timed_scrape(exporter.port))
            cached.append(timed_scrape(exporter.port))
            stock.append(timed_scrape(stock_port))
        in_process = []
        for _ in range(max(3, runs // 3)):
            started = time.perf_counter()
            gzip.compress(generate_latest(registry))
            in_process.append(time.perf_counter() - started)
        fresh_m, cached_m, stock_m, inproc_m = map(statistics.median,
                                                   (fresh, cached, stock, in_process))
        _, body, headers = get(exporter.port, "/metrics", PROMETHEUS_HEADERS)
        text = decode(body, headers)
        keys = sample_keys(text)
        same = keys == sample_keys(generate_latest(registry).decode())
        report("samples served (bybit_*)", f"{len(keys)}", "", None)
        report("gzip body / plain body", f"{len(body) / 1e6:.2f} / {len(text) / 1e6:.2f} MB",
               "", None)
        report("stock prometheus_client server median", f"{stock_m * 1000:.1f} ms", "", None)
        report("fast median, a poll landed since the last scrape", f"{fresh_m * 1000:.1f} ms",
               "", None)
        report("  fast / stock server", f"1/{stock_m / fresh_m:.0f}", "<= 1/20",
               stock_m / fresh_m >= 20)
        report("fast median, nothing changed (cached)", f"{cached_m * 1000:.1f} ms", "", None)
        report("  cached / stock server", f"1/{stock_m / cached_m:.0f}", "", None)
        report("stock generate_latest+gzip in process", f"{inproc_m * 1000:.1f} ms", "", None)
        report("  fast (poll landed) / in-process stock", f"1/{inproc_m / fresh_m:.0f}",
               "<= 1/20", inproc_m / fresh_m >= 20)
        report("same sample set as the stock path", str(same), "True", same)
        promtool = shutil.which("promtool")
        if promtool:
            check = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                                   capture_output=True)
            clean = check.returncode == 0 and not (check.stdout + check.stderr).strip()
            report("promtool check metrics", "clean" if clean else "complaints", "clean", clean)
        report("exporter RSS at 200 x 30", f"{exporter.rss_mb():.1f} MB", "< 120 MB",
               exporter.rss_mb() < 120)


def bench_fan_out(tmp: Path) -> None:
    print("\n== fan-out: 120 accounts, 250 ms upstream latency each", flush=True)
    with running(tmp, 120, 10, "30s", latency=0.25) as (_, _, _, exporter):
        listening = exporter.wait_ready(path="/-/healthy")
        ready = exporter.wait_ready()
        _, body, headers = get(exporter.port, "/metrics", {})
        ups = [s.value for f in text_string_to_metric_families(decode(body, headers))
               for s in f.samples if s.name == "bybit_up"]
        all_up = len(ups) == 120 and all(v == 1.0 for v in ups)
        report("process started and serving", f"{listening:.2f} s", "", None)
        report("all 120 accounts up after start", f"{ready:.2f} s", "< 2 s (sequential: 30 s)",
               ready < 2 and all_up)


def bench_steady(tmp: Path, window: float, runs: int) -> None:
    print(f"\n== steady state: 500 accounts x 10 coins every 30 s, CPU over {window:.0f} s",
          flush=True)
    with running(tmp, 500, 10, "30s") as (sim, _, _, exporter):
        ready = exporter.wait_ready()
        report("all 500 accounts polled once (budget-limited)", f"{ready:.2f} s", "", None)
        time.sleep(5)
        cpu_before, wall_before = exporter.cpu_seconds(), time.monotonic()
        time.sleep(window)
        wall_after = time.monotonic()
        cpu = (exporter.cpu_seconds() - cpu_before) / (wall_after - wall_before)
        polls = sum(1 for t in list(sim.request_times) if wall_before <= t < wall_after)
        report("polls answered during the window", f"{polls / (wall_after - wall_before):.1f}/s",
               "500 / 30 s = 16.7/s", None)
        report("exporter CPU, polls only", f"{cpu * 100:.2f} % of a core", "< 5 %", cpu < 0.05)
        peak = max_in_window(list(sim.request_times))
        report("most requests in any 5 s window", str(peak), "<= 400 (Bybit bans at 600)",
               peak <= 400)
        fresh = []
        for _ in range(runs):  # polls land ~17 times a second: each scrape renders anew
            time.sleep(0.25)
            fresh.append(timed_scrape(exporter.port))
        report("scrape median, a poll landed since the last one",
               f"{statistics.median(fresh) * 1000:.1f} ms", "", None)
        alone = [timed_scrape(exporter.port) for _ in range(runs)]
        together: list[float] = []

        def replica():
            for _ in range(runs):
                together.append(timed_scrape(exporter.port))

        threads = [threading.Thread(target=replica) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ratio = statistics.median(together) / statistics.median(alone)
        report("scrape median, back to back, one replica", f"{statistics.median(alone) * 1000:.1f} ms",
               "", None)
        report("scrape median, two replicas at once", f"{statistics.median(together) * 1000:.1f} ms",
               "", None)
        # Two scrapes share the CPU (one interpreter), but no lock makes one wait for the other
        # or for a poll: twice the work in the same wall time is the ideal, 2x.
        report("two replicas at once / one alone", f"{ratio:.2f}x", "no lock: <= 2.5x", ratio <= 2.5)


def bench_small_rss(tmp: Path) -> None:
    print("\n== memory with 3 accounts", flush=True)
    with running(tmp, 3, 5, "30s") as (_, _, _, exporter):
        exporter.wait_ready()
        for _ in range(5):
            timed_scrape(exporter.port)
        report("exporter RSS with 3 accounts", f"{exporter.rss_mb():.1f} MB", "< 40 MB",
               exporter.rss_mb() < 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs, window = (7, 20.0) if args.quick else (15, 60.0)
    print(f"bybit-exporter benchmark on {os.cpu_count()} cores, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_small_rss(Path(tmp))
        bench_fan_out(Path(tmp))
        bench_scrape(Path(tmp), runs)
        bench_steady(Path(tmp), window, runs)


if __name__ == "__main__":
    main()
