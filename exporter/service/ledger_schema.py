"""The money-flow state's SQLite schema and its version (`PRAGMA user_version`).

MIGRATIONS[n] takes a state from version n to n + 1; the version is what the state has been
taken to. Version 1 is the schema of the first release, whose files carry no version (0): its
tables are there already, and only the version is written. A change of the schema is a new
entry at the end, never an edit of one (tests/test_ledger_schema.py opens a state of every
release). Opening a state brings it to SCHEMA_VERSION in one transaction: a process killed
meanwhile leaves the state as it was. A state of a newer release (a version above ours) is
refused and left exactly as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 0 -> 1: the first release's schema
        """CREATE TABLE IF NOT EXISTS ledgers (uid TEXT NOT NULL, collector TEXT NOT NULL,
            origin_ms INTEGER NOT NULL, PRIMARY KEY (uid, collector))""",
        """CREATE TABLE IF NOT EXISTS progress (uid TEXT NOT NULL, source TEXT NOT NULL,
            read_until_ms INTEGER NOT NULL, PRIMARY KEY (uid, source))""",
        """CREATE TABLE IF NOT EXISTS seen (uid TEXT NOT NULL, source TEXT NOT NULL,
            row_key TEXT NOT NULL, time_ms INTEGER NOT NULL,
            PRIMARY KEY (uid, source, row_key)) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS totals (uid TEXT NOT NULL, collector TEXT NOT NULL,
            family TEXT NOT NULL, labels TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (uid, collector, family, labels)) WITHOUT ROWID""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class NewerState(Exception):
    """The state was written by a newer release: this one does not know its schema."""

    def __init__(self, version: int):
        super().__init__(f"schema version {version}; this release reads up to {SCHEMA_VERSION}")
        self.version = version


def version_of(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def bring_up_to_date(db: sqlite3.Connection) -> None:
    """Take the state (a connection in autocommit mode) to SCHEMA_VERSION, or raise NewerState
    before writing anything. Reading the version is all it costs once the state is current."""
    found = version_of(db)
    if found == SCHEMA_VERSION:
        return
    _check(found)  # before any lock or write
    db.execute("BEGIN IMMEDIATE")  # one writer: two collectors of one account may both open it
    try:
        version = version_of(db)  # again, under the lock: another may have upgraded it
        _check(version)
        for migration in MIGRATIONS[version:]:
            for statement in migration:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _check(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise NewerState(version)
