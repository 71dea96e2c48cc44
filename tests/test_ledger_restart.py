"""The real process, killed with SIGKILL in the middle of its polls again and again while
Bybit's log keeps growing, restarted on the same --storage.path: its totals equal the sums over
the distinct rows, the rows of the downtime included."""

from __future__ import annotations

import os
import random
import signal
import textwrap
import threading
import time
from decimal import Decimal

from exporter.bybit.endpoints import transactions
from exporter.bybit.ledger import Totals, add
from exporter.metrics.fields import Reader
from exporter.simulator.ledger import Ledger
from tests.conftest import sample, unified_account, wait_for

SECRET = "FLOWSECRET0123456789"
FAMILIES = {family.name for family in transactions.FAMILIES}


def book_some(ledger: Ledger, rng: random.Random, now_ms: int) -> None:
    """A burst of rows like a busy account's: fills, funding sharing a fill's id, interest,
    transfers, some of them arriving late (within the exporter's re-read overlap)."""
    time_ms = now_ms - rng.randrange(0, 3000)
    late = rng.choice([0, 0, 0, 2000, 4000])
    fill = ledger.trade(time_ms, "BTCUSDT", rng.choice(["Buy", "Sell"]), "0.01",
                        rng.randrange(59000, 61000), cash_flow=Decimal(rng.randrange(-500, 500)) / 7,
                        late_ms=late)
    if rng.random() < 0.3:  # Bybit's own example: a SETTLEMENT row with the fill's id
        ledger.funding(time_ms, "BTCUSDT", "Buy", "0.5", "60000", "0.0001", row_id=fill.id)
    # ids of their own: the simulator's default ids come from the time, and two rows of one
    # type at the same millisecond would be one row to Bybit
    if rng.random() < 0.2:
        ledger.interest(time_ms, "USDT", Decimal(rng.randrange(1, 99)) / 1000,
                        row_id=f"L-I-I-{fill.id}")
    if rng.random() < 0.1:
        ledger.transfer_in(time_ms, "USDT", rng.randrange(10, 1000), row_id=f"T-{fill.id}")


def expected(ledger: Ledger) -> dict[tuple[str, tuple[str, ...]], float]:
    totals, seen = Totals(), set()
    for row in ledger.rows():
        identity = (row.id, row.type, row.time_ms, row.currency)
        if identity not in seen:
            seen.add(identity)
            entry = transactions.entry(row.row(), Reader(), "")
            assert entry is not None
            add(totals, entry)
    return {(family.name, labels): float(value) for (family, labels), value in totals.items()}


def exported(process) -> dict[tuple[str, tuple[str, ...]], float]:
    found = {}
    for (name, labels), value in process.samples().items():
        if name in FAMILIES:
            family = next(f for f in transactions.FAMILIES if f.name == name)
            by_name = dict(labels)
            found[(name, tuple(by_name[label] for label in family.labels))] = value
    return found


def test_killed_mid_poll_and_restarted_it_neither_loses_nor_doubles_a_row(
        simulator, exporter_process, tmp_path):
    rng = random.Random(18)
    account = unified_account("FLOWKEY0001", SECRET)
    sim = simulator([account])
    start = sim.now_ms()
    for minutes_ago in range(1, 400):  # history before the first start, to backfill
        book_some(account.ledger, rng, start - minutes_ago * 9_000)
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        poll_interval: 300ms
        timeout: 5s
        stale_after: 1h
        transactions_since: 2h
        intervals: {{transactions: 300ms}}
        accounts:
          - name: busy
            api_key: FLOWKEY0001
            api_secret: {SECRET}
            endpoint: {sim.url}
            collect: [wallet, transactions]
    """))
    args = ["--config.file", str(config), "--storage.path", str(tmp_path / "state")]
    stop = threading.Event()

    def keep_booking() -> None:
        while not stop.wait(0.02):
            book_some(account.ledger, rng, sim.now_ms())

    writer = threading.Thread(target=keep_booking, daemon=True)
    writer.start()
    try:
        for _ in range(6):
            process = exporter_process(args)
            time.sleep(rng.uniform(0.8, 2.5))
            os.kill(process.proc.pid, signal.SIGKILL)
            process.proc.wait()
            time.sleep(rng.uniform(0, 1.0))  # downtime: the log grows meanwhile
    finally:
        stop.set()
        writer.join()
    final = exporter_process(args)
    want = expected(account.ledger)
    assert len(account.ledger.rows()) > 1000 and len(want) > 10
    wait_for(lambda: exported(final) == want, timeout=30, interval=0.5)
    # the state is the same on the next start: nothing counted again
    final.stop()
    again = exporter_process(args)
    wait_for(lambda: exported(again) == want, timeout=15, interval=0.5)


def test_a_broken_storage_fails_only_the_money_flow_collectors(simulator, exporter_process,
                                                             tmp_path):
    account = unified_account("BROKENKEY01", SECRET)
    sim = simulator([account])
    (tmp_path / "a-file").write_text("where the storage directory should be")
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        poll_interval: 300ms
        accounts:
          - name: broken
            api_key: BROKENKEY01
            api_secret: {SECRET}
            endpoint: {sim.url}
            collect: [wallet, positions, transactions]
    """))
    process = exporter_process(["--config.file", str(config),
                                "--storage.path", str(tmp_path / "a-file" / "state")])
    process.wait_ready()
    samples = process.samples()
    assert sample(samples, "bybit_up", account="broken", account_type="UNIFIED") == 1
    assert sample(samples, "bybit_collector_up", account="broken", collector="positions") == 1
    assert sample(samples, "bybit_collector_up", account="broken", collector="transactions") == 0
    assert sample(samples, "bybit_collector_failing", account="broken",
                  collector="transactions", reason="storage") == 1
    process.stop()
    assert "a-file/state/broken.sqlite" in process.output
