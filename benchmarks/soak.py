"""Soak: a long run of failures must not grow threads, memory or open files.

    python benchmarks/soak.py --minutes 10

Runs the real exporter against the simulated Bybit with 40 accounts polled every second, cycles
every account through every fault (hangs, resets, HTML errors, garbage, auth and rate-limit
errors...) and samples the exporter's threads, RSS and open file descriptors.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import Exporter, fleet, get  # noqa: E402

from tests.faults import FAULTS, FaultySimulator, faulty  # noqa: E402

ACCOUNTS = 40


def sample(exporter: Exporter) -> tuple[int, float, int]:
    pid = exporter.proc.pid
    status = Path(f"/proc/{pid}/status").read_text()
    threads = int(status.split("Threads:")[1].split()[0])
    rss = int(status.split("VmRSS:")[1].split()[0]) / 1024
    return threads, rss, len(os.listdir(f"/proc/{pid}/fd"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    plain_accounts, names = fleet(ACCOUNTS, 10)
    sim_accounts = [faulty(account) for account in plain_accounts]
    sim = FaultySimulator(sim_accounts).start()
    sim.hang_seconds, sim.slow_seconds = 3.0, 0.4
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "soak.yaml"
        # wallet-balance only: the default collectors would ask 4x the budget at 1 s
        lines = ["poll_interval: 1s", "timeout: 1s", "stale_after: 10s", "collect: [wallet]",
                 "accounts:"]
        for account, name in zip(sim_accounts, names):
            lines += [f"  - name: {name}", f"    api_key: {account.api_key}",
                      f"    api_secret: {account.secret}", f"    endpoint: {sim.url}"]
        config.write_text("\n".join(lines) + "\n")
        exporter = Exporter(config)
        exporter.wait_ready()
        faults = itertools.cycle([None, *FAULTS])
        started, rows, scrapes = time.monotonic(), [], 0
        print(f"{'minute':>7} {'threads':>8} {'rss MB':>8} {'fds':>5}  fault now", flush=True)
        while time.monotonic() - started < args.minutes * 60:
            fault = next(faults)
            for index, account in enumerate(sim_accounts):
                # half the accounts fail at any time, the other half stay healthy
                account.fault = fault if index % 2 == 0 else None
            for _ in range(10):  # 10 s per fault, scraping every second
                assert get(exporter.port, "/metrics", {})[0] == 200
                scrapes += 1
                time.sleep(1)
            threads, rss, fds = sample(exporter)
            rows.append((time.monotonic() - started, threads, rss, fds))
            print(f"{rows[-1][0] / 60:7.1f} {threads:8d} {rss:8.1f} {fds:5d}  {fault}", flush=True)
        exporter.stop()
        sim.stop()
    first = rows[: max(1, len(rows) // 4)]
    last = rows[-max(1, len(rows) // 4):]
    print(f"\n{scrapes} scrapes, {sum(a.requests for a in sim_accounts)} polls, "
          f"{len(rows)} samples over {rows[-1][0] / 60:.1f} min")
    for label, column in (("threads", 1), ("rss MB", 2), ("open fds", 3)):
        early = statistics.median(r[column] for r in first)
        late = statistics.median(r[column] for r in last)
        peak = max(r[column] for r in rows)
        print(f"{label:>9}: first quarter median {early:.1f}, last quarter median {late:.1f}, "
              f"max {peak:.1f}")


if __name__ == "__main__":
    main()
