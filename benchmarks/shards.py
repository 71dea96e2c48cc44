"""Beyond one machine: 2,000 simulated accounts across 4 shard processes, against one process.

    python benchmarks/shards.py                 # about 6 minutes
    python benchmarks/shards.py --seconds 60    # a shorter measured window

One simulated Bybit (a thread of this process, 100-250 ms of latency per request, spread over
the accounts) serves every account. Every shard is the real exporter process, run as

    python -m exporter --config.file SAME.yaml --shard=N --total-shards=4 \\
        --web.listen-address 127.0.0.1:PORT

with the same config. Then one process polls all 2,000 accounts, for comparison. Measured:

- every account polled within its interval (from the simulator's own record of every request,
  per API key) and by exactly one process (the simulator records each request's client port;
  the ports are mapped to processes through /proc/net/tcp and each process's open sockets);
- bybit_up of every account served by exactly one shard, all 2,000 covered (each /metrics);
- per shard, the most requests in any 5 s window (a shard's requests: those of the accounts
  shard_of() gives it), against the per-IP budget of one exporter, 400 per 5 s;
- per process RSS and CPU, from /proc.

To keep the run short and affordable: poll_interval 60s and collect [wallet, positions] (the
margin data: 4 requests per account per poll). Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench import Exporter, decode, fleet, get, max_in_window  # noqa: E402
from exporter.bybit.budget import MAX_REQUESTS, WINDOW_SECONDS  # noqa: E402
from exporter.config import load_file  # noqa: E402
from exporter.service.plan import describe, plan  # noqa: E402
from exporter.service.scheduling import DRIFT_FRACTION  # noqa: E402
from exporter.service.sharding import shard_of  # noqa: E402
from exporter.simulator import BybitSimulator, SimAccount, SimHandler  # noqa: E402

WALLET_PATH = "/v5/account/wallet-balance"
POSITIONS_PATH = "/v5/position/list"
COLLECT = ("wallet", "positions")
LATE_SLACK_SECONDS = 5.0  # a poll may wait that long for its turn (budget, workers, latency)


# -- the simulated Bybit, recording every private request: (time, api key, client port, path)

class RecordingHandler(SimHandler):
    def intercept(self, path: str, account: SimAccount | None) -> bool:
        query = self.path.partition("?")[2]
        self.sim.records.append((time.monotonic(), self.headers.get("X-BAPI-API-KEY", ""),
                                 self.client_address[1], path, "settleCoin=USDT" in query))
        return False


class RecordingSimulator(BybitSimulator):
    handler_class = RecordingHandler

    def __init__(self, accounts: list[SimAccount]):
        super().__init__(accounts)
        self.records: list[tuple[float, str, int, str, bool]] = []  # list.append: thread-safe
        self.server.handle_error = lambda request, client_address: None  # resets at the end

    @property
    def port(self) -> int:
        return self.server.server_address[1]


# -- processes: CPU, RSS, and which of them owns a client port --------------------------------

def proc_status(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def client_ports(pids: list[int], server_port: int) -> dict[int, int]:
    """{client port: pid} for every TCP connection of `pids` to the simulator."""
    owner = {inode: pid for pid in pids for inode in socket_inodes(pid)}
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], parts[9]
            if int(remote.rsplit(":", 1)[1], 16) == server_port and inode in owner:
                ports[int(local.rsplit(":", 1)[1], 16)] = owner[inode]
    return ports


@dataclass
class Proc:
    label: str
    shard: int | None  # None: the single process with every account
    exporter: Exporter
    accounts: set[str]  # the names it should poll
    ready_after: float = float("nan")
    cpu_window_start: float = 0.0
    cpu_end: float = 0.0
    rss_end: float = 0.0
    rss_peak: float = 0.0
    served: set[str] = field(default_factory=set)  # accounts with bybit_up on its /metrics
    up: int = 0

    @property
    def pid(self) -> int:
        return self.exporter.proc.pid


class PortWatcher(threading.Thread):
    """Maps client ports to processes every second while the run lasts."""

    def __init__(self, pids: list[int], server_port: int):
        super().__init__(daemon=True)
        self.pids, self.server_port = pids, server_port
        self.ports: dict[int, int] = {}
        self.conflicts = 0  # a port seen owned by two processes over the run
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.sample()

    def sample(self) -> None:
        for port, pid in client_ports(self.pids, self.server_port).items():
            if self.ports.setdefault(port, pid) != pid:
                self.conflicts += 1
                self.ports[port] = pid


# -- one run: some processes polling the same simulator ---------------------------------------

@dataclass
class RunResult:
    procs: list[Proc]
    started: float
    window: tuple[float, float]
    records: list[tuple[float, str, int, str, bool]]
    watcher: PortWatcher


def run(label: str, sim: RecordingSimulator, config: Path, names: list[str], shards: int,
        seconds: float, budget: int | None) -> RunResult:
    print(f"\n== {label}", flush=True)
    first_record = len(sim.records)
    started = time.monotonic()
    procs = []
    for index in range(shards):
        args = [f"--shard={index}", f"--total-shards={shards}"] if shards > 1 else []
        if budget is not None:
            args.append(f"--bybit.request-budget={budget}")
        owned = {n for n in names if shards == 1 or shard_of(n, shards) == index}
        procs.append(Proc(f"shard {index}" if shards > 1 else "one process",
                          index if shards > 1 else None, Exporter(config, args), owned))
    watcher = PortWatcher([p.pid for p in procs], sim.port)
    watcher.start()
    try:
        def wait(proc: Proc) -> None:  # all at once: each ready time is its own
            proc.ready_after = proc.exporter.wait_ready(
                timeout=300, targets=len(proc.accounts) * len(COLLECT))

        waiters = [threading.Thread(target=wait, args=(proc,)) for proc in procs]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join()
        for proc in procs:
            print(f"  {proc.label}: {len(proc.accounts)} accounts, every target polled once "
                  f"{proc.ready_after:.1f} s after its start", flush=True)
        time.sleep(5)  # past the start's burst
        window_start = time.monotonic()
        for proc in procs:
            proc.cpu_window_start = cpu_seconds(proc.pid)
        print(f"  measuring for {seconds:.0f} s ...", flush=True)
        deadline = window_start + seconds
        while time.monotonic() < deadline:
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
            for proc in procs:
                proc.rss_peak = max(proc.rss_peak, proc_status(proc.pid, "VmRSS"))
        window_end = time.monotonic()
        watcher.sample()
        for proc in procs:
            proc.cpu_end = cpu_seconds(proc.pid)
            proc.rss_end = proc_status(proc.pid, "VmRSS")
            proc.rss_peak = max(proc.rss_peak, proc_status(proc.pid, "VmHWM"))
            proc.served, proc.up = served_accounts(proc.exporter)
    finally:
        watcher.done.set()
        for proc in procs:
            proc.exporter.stop()
    return RunResult(procs, started, (window_start, window_end), sim.records[first_record:],
                     watcher)


def served_accounts(exporter: Exporter) -> tuple[set[str], int]:
    """Accounts with a bybit_up series on this process's /metrics, and how many are 1."""
    _, body, headers = get(exporter.port, "/metrics", {"Accept-Encoding": "gzip"})
    accounts, up = set(), 0
    for line in decode(body, headers).splitlines():
        if line.startswith('bybit_up{account="'):
            accounts.add(line.split('"', 2)[1])
            up += line.endswith(" 1.0")
    return accounts, up


# -- what a run shows -------------------------------------------------------------------------

def late_accounts(records, names_by_key: dict[str, str], accounts: set[str],
                  window: tuple[float, float], interval: float, positions: bool) -> tuple[int, float]:
    """Accounts not polled within interval x (1 + drift) + slack somewhere in the window
    (counting the gap from the window's start to the first poll and from the last to its end),
    and the longest gap seen."""
    start, end = window
    polls: dict[str, list[float]] = {name: [] for name in accounts}
    for t, key, _, path, usdt in records:
        if start <= t < end and (path == POSITIONS_PATH and usdt if positions
                                 else path == WALLET_PATH):
            name = names_by_key.get(key)
            if name in polls:
                polls[name].append(t)
    limit = interval * (1 + DRIFT_FRACTION) + LATE_SLACK_SECONDS
    late, worst = 0, 0.0
    for times in polls.values():
        times = [start, *sorted(times), end]
        gap = max(b - a for a, b in zip(times, times[1:]))
        worst = max(worst, gap)
        late += gap > limit
    return late, worst


def pids_per_key(result: RunResult) -> dict[str, set[int]]:
    seen: dict[str, set[int]] = collections.defaultdict(set)
    for _, key, port, _, _ in result.records:
        pid = result.watcher.ports.get(port)
        seen[key].add(pid if pid is not None else -1)
    return seen


def table(result: RunResult, names_by_key: dict[str, str], interval: float,
          shards: int) -> list[list[str]]:
    """One row per process (and a total for shards)."""
    window = result.window
    length = window[1] - window[0]
    rows = []
    per_proc_times: dict[str, list[float]] = collections.defaultdict(list)
    for t, key, _, _, _ in result.records:
        name = names_by_key.get(key)
        if name is None:
            continue
        label = f"shard {shard_of(name, shards)}" if shards > 1 else "one process"
        per_proc_times[label].append(t)
    accounts_all = set()
    for proc in result.procs:
        times = per_proc_times[proc.label]
        in_window = [t for t in times if window[0] <= t < window[1]]
        late_w, worst_w = late_accounts(result.records, names_by_key, proc.accounts, window,
                                        interval, False)
        late_p, worst_p = late_accounts(result.records, names_by_key, proc.accounts, window,
                                        interval, True)
        accounts_all |= proc.accounts
        cpu_window = (proc.cpu_end - proc.cpu_window_start) / length
        rows.append([
            proc.label, str(len(proc.accounts)), f"{len(proc.served)}/{proc.up}",
            f"{proc.ready_after:.1f}",
            str(max_in_window(times)), str(max_in_window(in_window)),
            f"{len(in_window) / length * WINDOW_SECONDS:.0f}",
            f"{worst_w:.1f}/{worst_p:.1f}", f"{late_w}/{late_p}",
            f"{proc.rss_end:.0f}/{proc.rss_peak:.0f}",
            f"{cpu_window * 100:.1f}", f"{proc.cpu_end:.1f}",
        ])
    if len(result.procs) > 1:
        all_times = [t for times in per_proc_times.values() for t in times]
        in_window = [t for t in all_times if window[0] <= t < window[1]]
        rows.append([
            "all shards", str(sum(len(p.accounts) for p in result.procs)),
            f"{sum(len(p.served) for p in result.procs)}/{sum(p.up for p in result.procs)}",
            f"{max(p.ready_after for p in result.procs):.1f}",
            str(max_in_window(all_times)), str(max_in_window(in_window)),
            f"{len(in_window) / length * WINDOW_SECONDS:.0f}", "", "",
            (f"{sum(p.rss_end for p in result.procs):.0f}/"
             f"{sum(p.rss_peak for p in result.procs):.0f}"),
            f"{sum(p.cpu_end - p.cpu_window_start for p in result.procs) / length * 100:.1f}",
            f"{sum(p.cpu_end for p in result.procs):.1f}",
        ])
    return rows


HEADER = ["process", "accounts", "served/up", "ready s", "peak 5s", "peak 5s win", "avg 5s win",
          "max gap s w/p", "late w/p", "RSS MB end/peak", "CPU % win", "CPU s total"]


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(HEADER, widths)))
    print("  " + line)
    print("  " + "-" * len(line))
    for row in rows:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))


def verdict(name: str, value: str, target: str, ok: bool | None) -> None:
    mark = "" if ok is None else ("PASS" if ok else "FAIL")
    print(f"  {name:<58} {value:>16}   {target:<30} {mark}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--interval", type=float, default=60.0, help="poll_interval, seconds")
    parser.add_argument("--seconds", type=float, default=90.0,
                        help="measured window after every process is ready")
    parser.add_argument("--skip-single", action="store_true",
                        help="no comparison run with one process")
    parser.add_argument("--shared-ip", action="store_true",
                        help="shards keep the default budget, 400 / shards per 5 s each, as "
                             "when they share one egress IP; by default every shard gets "
                             "--bybit.request-budget=400, as on its own machine and IP")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # one keep-alive connection per account, and a thread per connection
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rng = random.Random(7)
    latencies = [rng.uniform(0.100, 0.250) for _ in range(args.accounts)]
    sim_accounts, names = fleet(args.accounts, 5, latencies, positions=3, prefix="SHARDKEY")
    names_by_key = {a.api_key: n for a, n in zip(sim_accounts, names)}
    sim = RecordingSimulator(sim_accounts).start()
    interval = args.interval
    print(f"bybit-exporter shards on {os.cpu_count()} cores, python {sys.version.split()[0]}; "
          f"open files limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}")
    print(f"{args.accounts} accounts x 5 coins x 3 positions, collect [{', '.join(COLLECT)}] "
          f"(margin data only, to keep the run short), poll_interval {interval:g}s, simulated "
          f"latency {min(latencies) * 1000:.0f}-{max(latencies) * 1000:.0f} ms per request; "
          f"measured window {args.seconds:g} s after every process is ready")
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "shards.yaml"
        lines = [f"poll_interval: {interval:g}s", "timeout: 10s", "stale_after: 10m",
                 f"collect: [{', '.join(COLLECT)}]", "accounts:"]
        for account, name in zip(sim_accounts, names):
            lines += [f"  - name: {name}", f"    api_key: {account.api_key}",
                      f"    api_secret: {account.secret}", f"    endpoint: {sim.url}"]
        config_path.write_text("\n".join(lines) + "\n")
        config = load_file(config_path)
        print("\n== plan (exporter.service.plan), per process")
        shard_budget = MAX_REQUESTS // args.shards if args.shared_ip else MAX_REQUESTS
        print(f"  each shard's budget: {shard_budget} per {WINDOW_SECONDS:g} s ("
              + ("the default, 400 / shards: one egress IP for all)" if args.shared_ip else
                 "--bybit.request-budget=400: every shard as on its own machine and IP)"))
        for index in range(args.shards):
            owned = [a for a in config.accounts if shard_of(a.name, args.shards) == index]
            print(f"  shard {index}: {len(owned):4d} accounts: "
                  f"{describe(plan(owned, shard_budget / WINDOW_SECONDS))}")
        print(f"  one process: {len(config.accounts)} accounts: {describe(plan(config.accounts))}")

        sharded = run(f"{args.shards} shard processes, one config", sim, config_path, names,
                      args.shards, args.seconds, None if args.shared_ip else MAX_REQUESTS)
        single = None
        if not args.skip_single:
            time.sleep(2)
            single = run("one process, every account", sim, config_path, names, 1,
                         args.seconds, None)
    sim.stop()
    report(args, sharded, single, names, names_by_key, interval, shard_budget)


def report(args, sharded: RunResult, single: RunResult | None, names: list[str],
           names_by_key: dict[str, str], interval: float, shard_budget: int) -> None:
    limit = interval * (1 + DRIFT_FRACTION) + LATE_SLACK_SECONDS
    print(f"\n== results  (peak 5s: most requests in any 5 s window, whole run / measured window;"
          f"\n   max gap, late: longest time between two polls of one account and accounts over "
          f"{limit:g} s = interval x {1 + DRIFT_FRACTION:g} + {LATE_SLACK_SECONDS:g} s, "
          f"w: wallet, p: positions)")
    rows = table(sharded, names_by_key, interval, args.shards)
    if single is not None:
        rows += table(single, names_by_key, interval, 1)
    print_table(rows)

    print("\n== checks")
    counts = collections.Counter(n for p in sharded.procs for n in p.served)
    everyone = set(names)
    verdict("accounts per shard", " ".join(str(len(p.accounts)) for p in sharded.procs),
            f"~{len(names) / args.shards:.0f} each", None)
    verdict("accounts with bybit_up on exactly one shard",
            f"{sum(1 for n in everyone if counts[n] == 1)}/{len(names)}", f"{len(names)}",
            all(counts[n] == 1 for n in everyone))
    verdict("  on no shard / on two or more",
            f"{sum(1 for n in everyone if counts[n] == 0)} / "
            f"{sum(1 for n in everyone if counts[n] > 1)}", "0 / 0", None)
    verdict("  each on the shard shard_of() gives it",
            str(all(p.served == p.accounts for p in sharded.procs)), "True",
            all(p.served == p.accounts for p in sharded.procs))
    verdict("bybit_up = 1 on every shard",
            f"{sum(p.up for p in sharded.procs)}/{len(names)}", f"{len(names)}",
            sum(p.up for p in sharded.procs) == len(names))
    per_key = pids_per_key(sharded)
    pid_shard = {p.pid: p.shard for p in sharded.procs}
    one_pid = sum(1 for k, pids in per_key.items() if len(pids) == 1 and -1 not in pids)
    right = sum(1 for k, pids in per_key.items() if len(pids) == 1 and -1 not in pids
                and pid_shard[next(iter(pids))] == shard_of(names_by_key[k], args.shards))
    unmapped = sum(1 for k, pids in per_key.items() if -1 in pids)
    verdict("accounts whose requests all came from one process",
            f"{one_pid}/{len(per_key)}", f"{len(names)}", one_pid == len(names))
    verdict("  that process being shard_of()'s shard", f"{right}/{one_pid}", f"{one_pid}",
            right == one_pid)
    verdict("  accounts with a request from an unmapped port", str(unmapped), "0", None)
    late = [late_accounts(sharded.records, names_by_key, p.accounts, sharded.window, interval,
                          positions) for p in sharded.procs for positions in (False, True)]
    verdict("accounts polled late (wallet + positions, all shards)",
            str(sum(n for n, _ in late)), f"0 (gap <= {limit:g} s)",
            sum(n for n, _ in late) == 0)
    per_shard_times: dict[int, list[float]] = collections.defaultdict(list)
    for t, key, _, _, _ in sharded.records:
        per_shard_times[shard_of(names_by_key[key], args.shards)].append(t)
    worst = max(max_in_window(times) for times in per_shard_times.values())
    verdict("most requests in any 5 s window, worst shard, start included", str(worst),
            f"<= {shard_budget} per shard (its budget)", worst <= shard_budget)
    every = max_in_window([t for times in per_shard_times.values() for t in times])
    if args.shared_ip:
        verdict("  all shards together (one IP)", str(every), f"<= {MAX_REQUESTS}",
                every <= MAX_REQUESTS)
    else:
        verdict("  all shards together (loopback here; one IP each in production)",
                str(every), "", None)
    if single is not None:
        times = [t for t, *_ in single.records]
        in_window = [t for t in times if single.window[0] <= t < single.window[1]]
        late1 = [late_accounts(single.records, names_by_key, set(names), single.window,
                               interval, positions) for positions in (False, True)]
        verdict("one process: most requests in any 5 s window", str(max_in_window(times)),
                f"<= {MAX_REQUESTS} (its budget)", max_in_window(times) <= MAX_REQUESTS)
        verdict("one process: requests per 5 s wanted (plan) / served",
                f"{len(names) * 4 / interval * WINDOW_SECONDS:.0f} / "
                f"{len(in_window) / (single.window[1] - single.window[0]) * WINDOW_SECONDS:.0f}",
                "", None)
        verdict("one process: accounts polled late (wallet + positions)",
                str(sum(n for n, _ in late1)), "(budget-bound: expected)", None)
        s_cpu = sum(p.cpu_end - p.cpu_window_start for p in sharded.procs)
        o_cpu = single.procs[0].cpu_end - single.procs[0].cpu_window_start
        s_req = sum(1 for t, *_ in sharded.records if sharded.window[0] <= t < sharded.window[1])
        o_req = len(in_window)
        verdict("CPU per 1000 requests: shards / one process",
                f"{s_cpu / max(s_req, 1) * 1000:.2f} / {o_cpu / max(o_req, 1) * 1000:.2f} s", "",
                None)
        verdict("RSS: 4 shards together / one process",
                f"{sum(p.rss_end for p in sharded.procs):.0f} / "
                f"{single.procs[0].rss_end:.0f} MB", "", None)


if __name__ == "__main__":
    main()
