"""What the money-flow collectors cost: requests per account per hour with `transactions` on,
and the exporter's CPU and RSS at 200 accounts whose logs are busy (1,000 rows per account per
hour), beside the same fleet without it, measured in the same run.

    .venv/bin/python benchmarks/money_flows.py [--accounts 200] [--minutes 6]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import Exporter, fleet, write_config  # noqa: E402

from exporter.bybit.endpoints.transactions import SOURCE  # noqa: E402
from exporter.simulator import BybitSimulator  # noqa: E402

ROWS_PER_ACCOUNT_PER_HOUR = 1000
BACKLOG_SECONDS = 900
WITH_TRANSACTIONS = ("wallet", "transactions")
WITHOUT = ("wallet",)


def book(ledger, rng: random.Random, time_ms: int) -> None:  # type: ignore[no-untyped-def]
    ledger.trade(time_ms, "BTCUSDT", rng.choice(["Buy", "Sell"]), "0.01", "60000",
                 cash_flow=rng.choice(["0", "1.5", "-2"]))


def keep_booking(sim: BybitSimulator, accounts: list, stop: threading.Event) -> None:
    """Fills on random accounts at the busy rate, each at the server's now, after the last
    15 minutes' worth: what polls and sweeps read again is as full as in a steady state."""
    rng = random.Random(7)
    per_second = ROWS_PER_ACCOUNT_PER_HOUR * len(accounts) / 3600
    now = sim.now_ms()
    for _ in range(int(per_second * BACKLOG_SECONDS)):
        book(rng.choice(accounts).ledger, rng, now - rng.randrange(BACKLOG_SECONDS * 1000))
    while not stop.wait(0.1):
        for _ in range(int(per_second * 0.1 + rng.random())):
            book(rng.choice(accounts).ledger, rng, sim.now_ms())


def measure(sim: BybitSimulator, accounts: list, names: list[str], collect: tuple[str, ...],
            tmp: Path, minutes: float) -> dict[str, float]:
    config = tmp / f"{'-'.join(collect)}.yaml"
    write_config(config, sim, accounts, names, "30s", collect)
    config.write_text(f"transactions_since: {BACKLOG_SECONDS}s\n" + config.read_text())
    exporter = Exporter(config, ["--storage.path", str(tmp / "state")])
    try:
        exporter.wait_ready()
        time.sleep(5)  # the first polls' burst is over
        calls_before = [len(account.calls) for account in accounts]
        cpu_before, started = exporter.cpu_seconds(), time.monotonic()
        rss = []
        while time.monotonic() - started < minutes * 60:
            time.sleep(5)
            rss.append(exporter.rss_mb())
        elapsed = time.monotonic() - started
        cpu = (exporter.cpu_seconds() - cpu_before) / elapsed
        calls = [call for account, before in zip(accounts, calls_before)
                 for call in account.calls[before:]]
    finally:
        exporter.stop()
    per_account_hour = 3600 / elapsed / len(accounts)
    return {"requests": len(calls) * per_account_hour,
            "log_requests": sum(path == SOURCE.path for path, _ in calls) * per_account_hour,
            "cpu": cpu * 100, "rss": statistics.median(rss)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=6.0)  # more than a sweep period
    args = parser.parse_args()
    sim_accounts, names = fleet(args.accounts, 30)
    sim = BybitSimulator(sim_accounts).start()
    stop = threading.Event()
    booker = threading.Thread(target=keep_booking, args=(sim, sim_accounts, stop), daemon=True)
    booker.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = {collect: measure(sim, sim_accounts, names, collect, Path(tmp), args.minutes)
                    for collect in (WITHOUT, WITH_TRANSACTIONS)}
    finally:
        stop.set()
        sim.stop()
    print(f"{args.accounts} accounts x 30 coins, poll_interval 30s, "
          f"{ROWS_PER_ACCOUNT_PER_HOUR} log rows per account per hour, "
          f"{args.minutes:g} min each")
    print(f"{'collect':<22} {'requests/account/h':>19} {'of them log':>12} {'CPU % core':>11} "
          f"{'RSS MB':>8}")
    for collect, run in runs.items():
        print(f"{','.join(collect):<22} {run['requests']:>19.1f} {run['log_requests']:>12.1f} "
              f"{run['cpu']:>11.1f} {run['rss']:>8.1f}")


if __name__ == "__main__":
    main()
