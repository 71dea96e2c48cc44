"""Fund-scale benchmark: the real exporter process against the simulated Bybit, one row per
figure of issue 20's table, each beside its target and its baseline measured in the same run.

    python benchmarks/bench.py                  # about 20 minutes
    python benchmarks/bench.py --quick          # shorter windows, no 400k-sample scrape
    python benchmarks/bench.py --baseline-rev ff24550   # the previous code (the default)

Baselines: for scrape times, the stock prometheus_client path over the same samples; for
memory, CPU and start-up, the previous code (the exporter of --baseline-rev, extracted with
`git archive` and run the same way); for fan-out, a bare Python process sending the same
signed requests on as many threads. Ratios compare two things measured in the same run on
the same machine, so they hold on a noisy shared host where wall times don't. Scrapes are
timed from a process of their own (benchmarks/scraper.py), over a connection kept open from one
scrape to the next, as Prometheus keeps it; the first 30 s row also times scrapes that each open
a connection. The 30 s scrape row is measured twice: as ever, and with the simulated Bybit's
threads at a lower CPU priority, as if it ran elsewhere (run_simulator_nicer). A p99 is the
nearest rank (of 100 scrapes, the 99th fastest), printed beside the slowest.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import http.client
import json
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from prometheus_client import generate_latest  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from benchmarks.scraper import PROMETHEUS_HEADERS, timed_scrapes  # noqa: E402
from benchmarks.stock import build_registry  # noqa: E402
from exporter import pool  # noqa: E402
from exporter.bybit.budget import MAX_REQUESTS, WINDOW_SECONDS, RequestBudget  # noqa: E402
from exporter.config import DEFAULT_COLLECT, load_file, load_text  # noqa: E402
from exporter.service.exporter import Exporter as ServiceExporter  # noqa: E402
from exporter.service.plan import plan  # noqa: E402
from exporter.simulator import (BybitSimulator, FundingCoin, Holding, Position,  # noqa: E402
                                SimAccount, calm_rate, swinging, unified_wallet)
from exporter.simulator.wallets import EMPTY_COIN  # noqa: E402

WALLET_ONLY = ("wallet",)
SIMULATOR_NICE = 10


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def positions_of(count: int) -> list[Position]:
    """`count` open positions spread over the three queries of the positions collector: linear
    USDT-settled (most), linear USDC-settled and inverse, a third of them in hedge mode."""
    rows = []
    for i in range(count):
        kind = i % 7
        price = 100.0 + 10 * i
        side = "Buy" if i % 2 == 0 else "Sell"
        liq = price * (0.8 if side == "Buy" else 1.2) if i % 4 else None
        idx = (1 if side == "Buy" else 2) if i % 3 == 0 else 0
        if kind == 5:
            rows.append(Position(f"P{i:03d}PERP", side, 1.5 + i, price, swinging(price),
                                 settle_coin="USDC", liq_price=liq, position_idx=idx))
        elif kind == 6:
            rows.append(Position(f"P{i:03d}USD", side, 1000.0 + i, price, swinging(price),
                                 category="inverse", settle_coin=f"P{i:03d}", liq_price=liq,
                                 position_idx=idx))
        else:
            rows.append(Position(f"P{i:03d}USDT", side, 0.5 + i, price, swinging(price),
                                 liq_price=liq, position_idx=idx))
    return rows


def fleet(accounts: int, coins: int, latency: float | Sequence[float] = 0.0,
          positions: int = 0, funding: bool = False, prefix: str = "BENCHKEY"):
    """Simulated accounts with `coins` coins each (and `positions` open positions, two Funding
    coins), and the exporter's names for them. `latency`: one for all, or one per account."""
    holdings = [Holding(f"C{i:03d}", 10.0 + i, 1.0 + i) for i in range(coins)]
    open_positions = positions_of(positions)
    wallet = with_position_margin(unified_wallet(holdings, calm_rate), open_positions)
    funds = [FundingCoin("BTC", 0.25), FundingCoin("USDT", 1500.0)] if funding else []
    sim_accounts, names = [], []
    for i in range(accounts):
        delay = latency if isinstance(latency, (int, float)) else latency[i]
        sim_accounts.append(SimAccount(api_key=f"{prefix}{i:06d}", secret=secrets.token_hex(16),
                                       wallets={"UNIFIED": wallet}, latency=delay,
                                       positions=open_positions, funding=funds))
        names.append(f"acct-{i:04d}")
    return sim_accounts, names


def with_position_margin(wallet, open_positions: Sequence[Position]):
    """The wallet's coins carry position margin (totalPositionIM/MM) in every settle coin of
    an open position, as Bybit reports it: what the positions collector's evidence reads."""
    settled = sorted({p.settle_coin for p in open_positions if p.size})

    def entry(t: float) -> dict:
        answer = wallet(t)
        coins = {c["coin"]: dict(c) for c in answer["coin"]}
        for coin in settled:
            coins.setdefault(coin, {**EMPTY_COIN, "coin": coin})  # every field, as Bybit lists
            coins[coin].update({"totalPositionIM": "25.5", "totalPositionMM": "2.5"})
        return {**answer, "coin": list(coins.values())}

    return entry if settled else wallet


def write_config(path: Path, sim: BybitSimulator, sim_accounts, names, interval: str,
                 collect: Sequence[str] | None = WALLET_ONLY, stale_after: str = "2h") -> None:
    """collect None: the default collectors (no `collect:` key at all)."""
    lines = [f"poll_interval: {interval}", "timeout: 10s", f"stale_after: {stale_after}"]
    if collect is not None:
        lines.append(f"collect: [{', '.join(collect)}]")
    lines.append("accounts:")
    for account, name in zip(sim_accounts, names):
        lines += [f"  - name: {name}", f"    api_key: {account.api_key}",
                  f"    api_secret: {account.secret}", f"    endpoint: {sim.url}"]
    path.write_text("\n".join(lines) + "\n")


class Exporter:
    """The exporter as a process: `python -m exporter ...`."""

    def __init__(self, config: Path, extra_args: Sequence[str] = (), code: Path = REPO,
                 launcher: Sequence[str] = ("-m", "exporter")):
        """`code`: the directory whose `exporter` package runs (a baseline's extracted tree);
        `launcher`: what runs it (a script that wraps exporter.cli.main)."""
        self.port = free_port()
        self.started = time.monotonic()
        env = {**os.environ, "PYTHONPATH": str(code)}
        self.proc = subprocess.Popen(
            [sys.executable, *launcher, "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{self.port}", "--log.level", "warning",
             *extra_args],
            cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, timeout: float = 240, path: str = "/-/ready",
                   targets: int | None = None) -> float:
        """Seconds from the process start until `path` answers 200 and, if `targets` is given,
        /metrics shows that many targets polled (bybit_up and bybit_collector_up series)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exporter exited with {self.proc.returncode}")
            try:
                if get(self.port, path, {})[0] == 200:
                    at = time.monotonic() - self.started
                    if targets is None or self.targets_up()[1] >= targets:
                        return at
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"exporter: no 200 on {path} in time")

    def targets_up(self) -> tuple[int, int]:
        """(targets up, targets served) from /metrics."""
        _, body, headers = get(self.port, "/metrics", {"Accept-Encoding": "gzip"})
        up = served = 0
        for line in decode(body, headers).splitlines():
            if line.startswith(("bybit_up{", "bybit_collector_up{")):
                served += 1
                up += line.endswith(" 1.0")
        return up, served

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def get(port: int, path: str, headers: dict) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def decode(body: bytes, headers: dict) -> str:
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return body.decode()


def sample_keys(text: str) -> set:
    return {(s.name, tuple(sorted(s.labels.items())))
            for family in text_string_to_metric_families(text) for s in family.samples
            if not s.name.startswith("process_")}


def quiet(sim: BybitSimulator) -> BybitSimulator:
    """No traceback on stderr when the exporter, stopped, resets its keep-alive connections."""
    sim.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    return sim


def run_simulator_nicer(sim: BybitSimulator, nice: int) -> None:
    """Serve every connection of the simulator from a thread at this nice value (Linux sets it
    per thread): Bybit's servers do not share the exporter's machine, and on two cores the
    simulator's bursts of work (a signature check and a JSON answer for each of up to 170
    requests a second) held the core that a scrape, or the scraping client, waited for."""
    serve = sim.server.process_request_thread

    def lowered(request, client_address) -> None:
        pool.lower_priority(nice)
        serve(request, client_address)

    sim.server.process_request_thread = lowered  # type: ignore[method-assign]


def report(name: str, value: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("PASS" if ok else "FAIL")
    print(f"  {name:<52} {value:>22}   {target:<28} {verdict}", flush=True)


@contextlib.contextmanager
def running(tmp: Path, accounts: int, coins: int, interval: str, latency: float = 0.0,
            collect: Sequence[str] | None = WALLET_ONLY, positions: int = 0,
            funding: bool = False, code: Path = REPO,
            exporter_args: Sequence[str] = (), simulator_nice: int = 0,
            launcher: Sequence[str] = ("-m", "exporter")) -> Iterator[tuple]:
    """The simulated Bybit with `accounts` x `coins`, and the exporter process polling it."""
    sim_accounts, names = fleet(accounts, coins, latency, positions, funding)
    sim = quiet(BybitSimulator(sim_accounts)).start()
    if simulator_nice:
        run_simulator_nicer(sim, simulator_nice)
    config = tmp / f"bench-{accounts}x{coins}x{positions}-{'-'.join(collect or ['default'])}.yaml"
    write_config(config, sim, sim_accounts, names, interval, collect)
    exporter = Exporter(config, exporter_args, code, launcher)
    try:
        yield sim, sim_accounts, names, exporter, config
    finally:
        exporter.stop()
        sim.stop()


def max_in_window(times, window: float = WINDOW_SECONDS) -> int:
    times, best, start = sorted(times), 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value that `share` of the values do not exceed (the p99 of
    100 scrapes is the 99th, of 50 the slowest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def baseline_tree(tmp: Path, rev: str) -> Path:
    """The `exporter` package of `rev`, extracted with `git archive` (reads the repository,
    touches no work tree)."""
    target = tmp / f"baseline-{rev}"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "exporter"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def served_samples(port: int) -> str:
    _, body, headers = get(port, "/metrics", PROMETHEUS_HEADERS)
    return decode(body, headers)


def stock_seconds(config: Path, runs: int) -> tuple[float, bool]:
    """prometheus_client's own generate_latest + gzip over the same accounts' samples (its
    store filled by an in-process exporter, then stopped): the median of `runs`; and whether
    the fast path renders exactly the same sample set from that same store."""
    service = ServiceExporter(load_file(config), budget=RequestBudget(limit=4000))
    service.start()
    deadline = time.monotonic() + 600
    while not service.ready() and time.monotonic() < deadline:
        time.sleep(0.1)
    service.stop()
    registry = build_registry(service.store, service._exporter_samples)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        text = generate_latest(registry)
        gzip.compress(text)
        times.append(time.perf_counter() - started)
    fast = service.exposition.render(gzip=True)
    same = sample_keys(gzip.decompress(fast).decode()) == sample_keys(text.decode())
    return statistics.median(times), same


def every_target(accounts: int) -> int:
    return accounts * len(DEFAULT_COLLECT)


def bench_scrape(tmp: Path, accounts: int, interval: str, runs: int, stock_runs: int,
                 title: str, simulator_nice: int = 0,
                 new_connections_too: bool = False) -> tuple[float, float]:
    """Scrapes a second apart while polls land (and, with new_connections_too, as many again
    with a connection each); returns (median, RSS MB)."""
    print(f"\n== /metrics while polls land: {title}", flush=True)
    # the default budget: on start it paces the first polls over the interval, and then every
    # account's polls move to a phase of their own, so that polls land all through the interval
    with running(tmp, accounts, 30, interval, collect=None, positions=20, funding=True,
                 simulator_nice=simulator_nice) as (_, _, _, exporter, config):
        exporter.wait_ready(timeout=900, targets=every_target(accounts))
        time.sleep(5)
        times = timed_scrapes(exporter.port, runs, 1.0)
        fresh = timed_scrapes(exporter.port, runs, 1.0, new_connections=True) \
            if new_connections_too else []
        back_to_back = timed_scrapes(exporter.port, runs, 0.0)
        rss = exporter.rss_mb()
        keys = sample_keys(served_samples(exporter.port))
        stock, same = stock_seconds(config, stock_runs)
    median, p99 = statistics.median(times), percentile(times, 0.99)
    report("samples served", f"{len(keys)}", "", None)
    report("stock prometheus_client: generate_latest + gzip", ms(stock), "(baseline)", None)
    report(f"median, a scrape a second, polls every {interval}", ms(median), "", None)
    report(f"p99 ({len(times)} scrapes, nearest rank) / slowest", f"{ms(p99)} / {ms(max(times))}",
           "", None)
    report("  p99 / stock", f"1/{stock / p99:.0f}", "<= 1/200", stock / p99 >= 200)
    if fresh:
        fresh_p99 = percentile(fresh, 0.99)
        report("a new connection for each scrape: median / p99",
               f"{ms(statistics.median(fresh))} / {ms(fresh_p99)}", "", None)
        report("  p99 / stock", f"1/{stock / fresh_p99:.0f}", "", None)
    report("median, scrapes back to back", ms(statistics.median(back_to_back)), "", None)
    report("same sample set as the stock path, from one store", str(same), "True", same)
    return median, rss


def bench_rss(tmp: Path, title: str, code: Path, collect: Sequence[str] | None,
              positions: int, interval: str, seconds: int) -> float:
    """RSS after `seconds` of a scrape a second while polls land."""
    accounts = 200
    with running(tmp, accounts, 30, interval, collect=collect, positions=positions,
                 funding=collect is None, code=code) as (_, _, _, exporter, _):
        exporter.wait_ready(timeout=900)  # every target's first poll attempt ended
        timed_scrapes(exporter.port, seconds, 1.0)
        return exporter.rss_mb()


def bench_memory(tmp: Path, base: Path, seconds: int, rss_all: float) -> None:
    print("\n== memory: RSS after a scrape a second while polls land", flush=True)
    old_all = bench_rss(tmp, "baseline", base, None, 20, "30s", seconds)
    report("RSS, 200 accounts x every collector (30 coins, 20 pos.)", f"{rss_all:.1f} MB",
           f"<= 100 MB (previous {old_all:.0f})", rss_all <= 100)
    new = bench_rss(tmp, "new", REPO, WALLET_ONLY, 0, "10s", seconds)
    old = bench_rss(tmp, "baseline", base, WALLET_ONLY, 0, "10s", seconds)
    report("RSS, 200 accounts x 30 coins, wallet only", f"{new:.1f} MB",
           f"<= 60 MB (previous {old:.0f})", new <= 60)


BARE_FAN_OUT = """
import hashlib, hmac, json, sys, threading, time, requests
accounts, url = json.loads(sys.stdin.read())
def call(key, secret):
    ts, query = str(int(time.time() * 1000)), "accountType=UNIFIED"
    sign = hmac.new(secret.encode(), (ts + key + "5000" + query).encode(), hashlib.sha256)
    headers = {"X-BAPI-API-KEY": key, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": "5000",
               "X-BAPI-SIGN": sign.hexdigest()}
    assert requests.get(url + "/v5/account/wallet-balance?" + query, headers=headers,
                        timeout=10).json()["retCode"] == 0
threads = [threading.Thread(target=call, args=pair) for pair in accounts]
[t.start() for t in threads]
[t.join() for t in threads]
"""


FAN_OUT_ROUNDS = 5  # a single start varies by +-10% on a shared machine: medians of rounds


def bench_fan_out(tmp: Path, base: Path) -> None:
    print(f"\n== fan-out: 120 accounts, 250 ms upstream latency each (collect: [wallet]), median "
          f"of {FAN_OUT_ROUNDS} rounds", flush=True)
    rounds: dict[str, list[float]] = {"new": [], "bare": [], "baseline": []}
    for _ in range(FAN_OUT_ROUNDS):  # alternating, so that the machine's moods hit all three
        for name, code in (("new", REPO), ("baseline", base)):
            with running(tmp, 120, 10, "30s", latency=0.25, code=code) as (sim, accounts, _,
                                                                           exporter, _):
                rounds[name].append(exporter.wait_ready(targets=120))
                if name == "new":
                    started = time.monotonic()
                    subprocess.run([sys.executable, "-c", BARE_FAN_OUT], check=True,
                                   input=json.dumps([[[a.api_key, a.secret] for a in accounts],
                                                     sim.url]), text=True)
                    rounds["bare"].append(time.monotonic() - started)
    figures = {name: statistics.median(times) for name, times in rounds.items()}
    ratios = sorted(new / bare for new, bare in zip(rounds["new"], rounds["bare"]))
    ratio = figures["new"] / figures["bare"]
    report("bare Python: 120 signed GETs on 120 threads", f"{figures['bare']:.2f} s",
           "(floor)", None)
    report("process start to all 120 up", f"{figures['new']:.2f} s",
           f"(previous {figures['baseline']:.2f} s)", None)
    report("  / bare-Python floor", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5)
    report("  each round's ratio, lowest to highest", " ".join(f"{r:.2f}" for r in ratios),
           "", None)


LAST_SUCCESS = re.compile(r'^bybit_(collector_)?last_success_timestamp_seconds\{account="([^"]*)",'
                          r'(?:account_type="[^"]*"|collector="positions")\} (\S+)$', re.M)


def margin_ages(port: int, now: float) -> dict[str, float]:
    """Per account: seconds since its wallet and its positions were both last polled. Read
    with a regular expression, not the exposition parser: parsing 300k samples twice a second
    in this process would starve the simulator's threads of the interpreter."""
    wallet: dict[str, float] = {}
    positions: dict[str, float] = {}
    for collector, account, value in LAST_SUCCESS.findall(served_samples(port)):
        into = positions if collector else wallet
        into[account] = min(into.get(account, float(value)), float(value))
    return {a: now - min(wallet[a], positions[a]) for a in wallet if a in positions}


def margin_run(tmp: Path, accounts: int, code: Path, window: float,
               positions: int = 3) -> tuple[float | None, float, int]:
    """Default collectors at 30 s on one budget: (seconds from process start until every
    account's wallet and positions were polled, the oldest margin data seen over `window`
    seconds after that, the most requests the simulator saw in any 5 s)."""
    with running(tmp, accounts, 10, "30s", collect=None, positions=positions, funding=True,
                 code=code) as (sim, _, _, exporter, _):
        exporter.wait_ready(path="/-/healthy")
        every, deadline = None, time.monotonic() + 180
        while every is None and time.monotonic() < deadline:
            time.sleep(0.5)
            if len(margin_ages(exporter.port, time.time())) >= accounts:
                every = time.monotonic() - exporter.started
        oldest, end = 0.0, time.monotonic() + window
        while every is not None and time.monotonic() < end:
            ages = margin_ages(exporter.port, time.time())
            oldest = max([oldest, *ages.values()])
            time.sleep(2.0)
        return every, oldest, max_in_window(list(sim.request_times))


def bench_margin_first(tmp: Path, base: Path, window: float) -> None:
    print("\n== start to every account's margin data: 500 accounts x every collector, 30 s",
          flush=True)
    new, _, _ = margin_run(tmp, 500, REPO, 0.0)
    old, _, _ = margin_run(tmp, 500, base, 0.0)
    report("start to every account's wallet and positions", f"{new:.1f} s" if new else "never",
           f"<= 30 s (previous {old:.0f} s)" if old else "<= 30 s", bool(new and new <= 30))
    print(f"\n== 1,000 accounts x every collector, 10 coins, 3 positions, 30 s, one budget: "
          f"then {window:.0f} s", flush=True)
    every, oldest, peak = margin_run(tmp, 1000, REPO, window)
    report("start to every account's wallet and positions", f"{every:.1f} s" if every else
           "never", "<= 30 s", bool(every and every <= 30))
    report("oldest margin data of any account, afterwards", f"{oldest:.1f} s",
           "<= 38 s (30 s, drift 3 s, a poll, sampled every 2 s)", oldest <= 38)
    report("most requests the simulator saw in any 5 s", str(peak),
           f"<= {MAX_REQUESTS} (Bybit bans at 600)", peak <= MAX_REQUESTS)


def bench_cpu(tmp: Path, base: Path, window: float) -> None:
    print(f"\n== CPU: 500 accounts x 10 coins every 30 s (collect: [wallet]), polls only, over "
          f"{window:.0f} s", flush=True)
    figures = {}
    for name, code in (("new", REPO), ("baseline", base)):
        with running(tmp, 500, 10, "30s", code=code) as (_, _, _, exporter, _):
            exporter.wait_ready(targets=500)
            time.sleep(5)
            cpu_before, wall_before = exporter.cpu_seconds(), time.monotonic()
            time.sleep(window)
            figures[name] = (exporter.cpu_seconds() - cpu_before) / (time.monotonic()
                                                                     - wall_before)
    report("exporter CPU", f"{figures['new'] * 100:.2f} % of a core",
           f"<= 5 % (previous {figures['baseline'] * 100:.1f} %)", figures["new"] <= 0.05)


def bench_capacity() -> None:
    print("\n== accounts one IP serves at poll_interval: 30s, default collectors", flush=True)

    def accounts(count: int) -> list:
        template = load_text("accounts: [{name: a, api_key: k, api_secret: s}]").accounts[0]
        return [dataclasses.replace(template, name=f"a{i}") for i in range(count)]

    one = plan(accounts(1))
    budget = MAX_REQUESTS / WINDOW_SECONDS
    typical, worst = int(budget / one.margin_rate), int(budget / one.worst_margin_rate)
    thousand = plan(accounts(1000))
    report("margin data fresh every interval, typical evidence", f"{typical}",
           f">= 1000 (previous {worst})", typical >= 1000)
    report("  worst case: positions in every category", f"{worst}", "", None)
    unstretched = int(budget / one.wanted_rate)
    report("  every collector at its own interval (none stretched)", f"{unstretched}", "", None)
    report("1,000 accounts: margin requests per 5 s (typical/worst)",
           f"{thousand.margin_rate * WINDOW_SECONDS:.1f} / "
           f"{thousand.worst_margin_rate * WINDOW_SECONDS:.1f}", f"<= {MAX_REQUESTS}",
           thousand.fits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--baseline-rev", default="ff24550")
    parser.add_argument("--only", default="", help="comma-separated: capacity, scrape, memory, "
                        "fanout, margin, cpu")
    args = parser.parse_args()
    # windows of whole intervals: polls spread over each
    runs, window, stock_runs = (30, 30.0, 2) if args.quick else (100, 60.0, 3)
    only = set(args.only.split(",")) if args.only else None

    def wanted(name: str) -> bool:
        return only is None or name in only

    print(f"bybit-exporter benchmark on {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"baseline {args.baseline_rev}")
    print(f"default collectors: {', '.join(DEFAULT_COLLECT)}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = baseline_tree(tmp, args.baseline_rev)
        for tree in (REPO, base):  # as an installed package is: start-up times compare code,
            # not whether a checkout has been run before (PYTHONDONTWRITEBYTECODE: never)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "exporter")],
                           check=True, stdout=subprocess.DEVNULL)
        if wanted("capacity"):
            bench_capacity()
        rss_all = 0.0
        if wanted("scrape") or wanted("memory"):
            _, rss_all = bench_scrape(tmp, 200, "30s", runs, stock_runs,
                                      "200 accounts x every collector, 30 s",
                                      new_connections_too=True)
        if wanted("scrape"):
            bench_scrape(tmp, 200, "30s", runs, stock_runs,
                         "the same, the simulated Bybit's threads at nice 10 (as if remote)",
                         simulator_nice=SIMULATOR_NICE)
            bench_scrape(tmp, 200, "600s", runs, stock_runs,
                         "the same at 600 s (no poll lands: the first ones came at start)")
            if not args.quick:
                bench_scrape(tmp, 500, "60s", runs // 2, 2,
                             "500 accounts x every collector (about 400k samples)")
        if wanted("memory"):
            bench_memory(tmp, base, 20 if args.quick else 40, rss_all)
        if wanted("fanout"):
            bench_fan_out(tmp, base)
        if wanted("margin"):
            bench_margin_first(tmp, base, window)
        if wanted("cpu"):
            bench_cpu(tmp, base, window)


if __name__ == "__main__":
    main()
