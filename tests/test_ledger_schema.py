"""The money-flow state's schema version: a state written by a release opens in this one with
every total, progress and counted row it held; one written by a newer release is refused and
left exactly as it is, and only the money-flow collectors say so.

tests/fixtures/ledger_state/release-0.1.0.sqlite was written by release 0.1.0 (the last
without a schema version): its LedgerPoller polled transactions and deposits of a simulated
account (make_release_state.py there, run in that release's checkout), and `.served.json`
holds the totals it then served. Each release whose schema changes adds its own."""

from __future__ import annotations

import json
import shutil
import sqlite3
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from exporter.bybit.endpoints import deposits, transactions
from exporter.bybit.ledger import Entry, Increment
from exporter.metrics.reasons import Reason
from exporter.service import ledger_schema
from exporter.service.ledger_schema import SCHEMA_VERSION
from exporter.service.ledger_state import LedgerFile, StorageError
from tests.conftest import REPO, sample, unified_account, wait_for
from tests.test_ledger import KEY, LogServer, new_store, poller

FIXTURES = REPO / "tests" / "fixtures" / "ledger_state"
RELEASES = ("0.1.0",)
TABLES = ("ledgers", "progress", "seen", "totals")
FAMILIES = {"transactions": transactions.ENDPOINT.families, "deposits": deposits.ENDPOINT.families}


def state_of(release: str, directory: Path, name: str = "a") -> Path:
    path = directory / f"{name}.sqlite"
    shutil.copyfile(FIXTURES / f"release-{release}.sqlite", path)
    return path


def raw(path: Path) -> tuple[int, dict[str, list[tuple]]]:
    """The version and every row of every table, read with sqlite3 alone."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        return version, {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall())
                         for table in TABLES}
    finally:
        db.close()


def served_by(path: Path) -> dict[str, Decimal]:
    """Every total this release reads from the state, as `family[labels]` (as served.json)."""
    _, before = raw(path)
    found = {}
    for uid, collector in {(row[0], row[1]) for row in before["ledgers"]}:
        with LedgerFile(path.parent, path.stem).transaction(uid, collector) as ledger:
            for (family, labels), value in ledger.totals(FAMILIES[collector]).items():
                found[f"{family.name}{json.dumps(list(labels))}"] = value
    return found


NEXT_MIGRATION = ("ALTER TABLE totals ADD COLUMN note TEXT NOT NULL DEFAULT ''",
                  "CREATE TABLE notes (uid TEXT NOT NULL)")


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("migrations", ["as shipped", "with a next migration"])
def test_a_state_of_a_release_opens_with_every_total_it_held(tmp_path, monkeypatch, release,
                                                              migrations):
    if migrations != "as shipped":  # what a change of the schema will do: the test holds
        monkeypatch.setattr(ledger_schema, "MIGRATIONS",
                            (*ledger_schema.MIGRATIONS, NEXT_MIGRATION))
        monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    path = state_of(release, tmp_path)
    version, before = raw(path)
    assert version < ledger_schema.SCHEMA_VERSION and len(before["totals"]) > 20
    found = served_by(path)
    assert found == {f"{family}{labels}": Decimal(value)
                     for _, _, family, labels, value, *_ in before["totals"]}
    release_served = json.loads((FIXTURES / f"release-{release}.served.json").read_text())
    assert {name: float(value) for name, value in found.items()} == release_served
    version, after = raw(path)
    assert version == ledger_schema.SCHEMA_VERSION
    assert {table: [row[:len(before[table][0])] for row in rows]
            for table, rows in after.items()} == before  # a row, a column: nothing lost


def test_rows_counted_before_the_upgrade_are_not_counted_again(tmp_path):
    path = state_of(RELEASES[-1], tmp_path)
    _, before = raw(path)
    uid, source, row_key, time_ms = next(row for row in before["seen"]
                                         if row[1] == transactions.SOURCE.name)
    origin = next(row[2] for row in before["ledgers"] if row[1] == "transactions")
    again = Entry(row_key, time_ms, (Increment(transactions.TRANSACTIONS, ("TRADE",),
                                               Decimal(1)),))
    with LedgerFile(tmp_path, "a").transaction(uid, "transactions") as ledger:
        assert ledger.count(transactions.SOURCE, [again], origin, None, sweep=False) == 0
    assert raw(path)[1]["totals"] == before["totals"]


def test_an_upgrade_that_fails_midway_leaves_the_state_as_it_was(tmp_path, monkeypatch):
    """One transaction: as a process killed during the upgrade would leave it."""
    failing = ("CREATE TABLE notes (uid TEXT NOT NULL)", "INSERT INTO nowhere VALUES (1)")
    monkeypatch.setattr(ledger_schema, "MIGRATIONS", (*ledger_schema.MIGRATIONS, failing))
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    path = state_of(RELEASES[-1], tmp_path)
    before = raw(path)
    with pytest.raises(StorageError, match="no such table: nowhere"):
        served_by(path)
    assert raw(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sqlite"]  # not moved aside


def newer(path: Path) -> bytes:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    return path.read_bytes()


def test_a_state_of_a_newer_release_is_refused_and_left_as_it_is(tmp_path):
    path = state_of(RELEASES[-1], tmp_path)
    written = newer(path)
    store = new_store()
    for _ in range(2):
        poller(LogServer([], page_size=50), tmp_path, store).poll()
        state = next(s for s in store.states() if s.key == KEY)
        assert (state.up, state.failure_reason) == (False, Reason.STORAGE)
        assert f"{path} was written by a newer release (schema version {SCHEMA_VERSION + 1}; " \
               f"this release reads up to {SCHEMA_VERSION})" in state.failure_message
    assert path.read_bytes() == written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sqlite"]


def test_a_newer_state_fails_only_the_money_flow_collectors_with_one_line(
        simulator, exporter_process, tmp_path):
    account = unified_account("NEWERKEY01", "NEWERSECRET01")
    sim = simulator([account])
    storage = tmp_path / "state"
    storage.mkdir()
    written = newer(state_of(RELEASES[-1], storage, "fund"))
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(f"""
        poll_interval: 300ms
        intervals: {{transactions: 300ms}}
        accounts:
          - name: fund
            api_key: NEWERKEY01
            api_secret: NEWERSECRET01
            endpoint: {sim.url}
            collect: [wallet, positions, transactions]
    """))
    process = exporter_process(["--config.file", str(config), "--storage.path", str(storage)])
    process.wait_ready()

    def wallet_polls() -> int:
        return sum(1 for path, _ in account.calls if path == "/v5/account/wallet-balance")

    def refused_polls() -> float:
        return sample(process.samples(), "bybit_collector_errors_total", account="fund",
                      collector="transactions", reason="storage") or 0

    wait_for(lambda: refused_polls() >= 1)
    polls, refused = wallet_polls(), refused_polls()
    # the margin data keeps coming while the state is refused again at each poll
    wait_for(lambda: wallet_polls() >= polls + 3 and refused_polls() >= refused + 3, timeout=20)
    samples = process.samples()
    assert sample(samples, "bybit_up", account="fund", account_type="UNIFIED") == 1
    assert sample(samples, "bybit_collector_up", account="fund", collector="positions") == 1
    assert sample(samples, "bybit_collector_failing", account="fund", collector="transactions",
                  reason="storage") == 1
    process.stop()
    refusals = [line for line in process.output.splitlines() if "newer release" in line]
    assert len(refusals) == 1 and "fund.sqlite" in refusals[0], process.output
    assert (storage / "fund.sqlite").read_bytes() == written
    assert sorted(p.name for p in storage.iterdir()) == ["fund.sqlite"]
