"""The state that makes money-flow totals survive a restart: per account, one SQLite file under
`--storage.path` (memory without it) holding, for each Bybit UID and collector, when counting
began, how far each log has been read, the rows already counted and the running totals.

Each poll writes in one transaction: a process killed at any instant leaves either the state
before the poll or the state after it, so no row is lost or counted twice. The state is keyed
by the Bybit UID as well as the account name: a name pointed at another Bybit account starts
fresh totals instead of mixing two accounts. The schema carries a version (exporter.service.
ledger_schema): a state of an earlier release is brought up to date as it is opened, one of a
newer release is refused and left as it is. Either way, and when the file cannot be read, only
the money-flow collectors fail (reason `storage`): the account's other collectors go on.

sqlite3 is imported when a ledger is first opened: an exporter without money-flow collectors
never loads it (1 MB of memory)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from exporter.bybit.errors import PollError
from exporter.bybit.ledger import Entry, Source, Totals, add
from exporter.metrics.family import Family
from exporter.metrics.reasons import Reason
from exporter.service.ledger_schema import NewerState, bring_up_to_date

if TYPE_CHECKING:
    import sqlite3

UNREADABLE_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
BUSY_TIMEOUT_SECONDS = 10.0
# Rows counted are remembered this long past the overlap a sweep reads again: a margin for
# Bybit's clock as measured moving back. Kept small: a busy log's rows fill memory without
# --storage.path.
KEEP_SEEN_MS = 10 * 60_000


class StorageError(PollError):
    def __init__(self, message: str):
        super().__init__(Reason.STORAGE, message)


class Ledger:
    """One transaction's view of one UID's ledger of one collector."""

    def __init__(self, db: sqlite3.Cursor, uid: str, collector: str):
        self.db, self.uid, self.collector = db, uid, collector

    def origin(self, default_ms: int) -> int:
        """When counting began: set on the first poll ever, kept from then on."""
        self.db.execute("INSERT OR IGNORE INTO ledgers VALUES (?, ?, ?)",
                        (self.uid, self.collector, default_ms))
        row = self.db.execute("SELECT origin_ms FROM ledgers WHERE uid = ? AND collector = ?",
                              (self.uid, self.collector)).fetchone()
        return int(row[0])

    def read_until(self, source: Source, sweep: bool = False) -> int | None:
        """How far the log has been read, by any poll, or by the last sweep."""
        row = self.db.execute("SELECT read_until_ms FROM progress WHERE uid = ? AND source = ?",
                              (self.uid, _progress_key(source, sweep))).fetchone()
        return None if row is None else int(row[0])

    def count(self, source: Source, entries: Iterable[Entry], origin_ms: int,
              read_until_ms: int | None, sweep: bool) -> int:
        """Add the rows not counted before (from the origin on) to the totals; move the source's
        progress, and the sweep's if this was one, to `read_until_ms` (None: not moved).
        Returns how many rows were new."""
        totals, new = Totals(), 0
        for entry in entries:
            if entry.time_ms < origin_ms:
                continue
            inserted = self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?, ?)",
                                       (self.uid, source.name, entry.key, entry.time_ms))
            if inserted.rowcount:
                add(totals, entry)
                new += 1
        for (family, labels), value in totals.items():
            self._add_total(family, labels, value)
        if read_until_ms is not None:
            self._move(source, False, max(read_until_ms, self.read_until(source) or 0))
        if read_until_ms is not None and sweep:
            self._move(source, True, max(read_until_ms, self.read_until(source, True) or 0))
            # rows this old are before any window a poll will read again
            self.db.execute("DELETE FROM seen WHERE uid = ? AND source = ? AND time_ms < ?",
                            (self.uid, source.name,
                             read_until_ms - source.overlap_ms - KEEP_SEEN_MS))
        return new

    def _move(self, source: Source, sweep: bool, read_until_ms: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO progress VALUES (?, ?, ?)",
                        (self.uid, _progress_key(source, sweep), read_until_ms))

    def _add_total(self, family: Family, labels: tuple[str, ...], value: Decimal) -> None:
        key = (self.uid, self.collector, family.name, json.dumps(labels))
        row = self.db.execute("SELECT value FROM totals WHERE uid = ? AND collector = ? AND "
                              "family = ? AND labels = ?", key).fetchone()
        total = Decimal(row[0]) + value if row else value
        self.db.execute("INSERT OR REPLACE INTO totals VALUES (?, ?, ?, ?, ?)",
                        (*key, str(total)))

    def totals(self, families: Iterable[Family]) -> Totals:
        by_name = {family.name: family for family in families}
        found = Totals()
        for name, labels, value in self.db.execute(
                "SELECT family, labels, value FROM totals WHERE uid = ? AND collector = ?",
                (self.uid, self.collector)).fetchall():
            if name in by_name:  # a family since renamed is not served
                found[(by_name[name], tuple(json.loads(labels)))] = Decimal(value)
        return found


class LedgerFile:
    """One account's state: a file `<account>.sqlite` in the storage directory, opened for each
    poll, or one database in memory for the life of the process (no directory).

    Every statement goes through one cursor: each `Connection.execute` makes a cursor, and the
    connection keeps a weak reference to each of the last 200 (Python 3.11), which the garbage
    collector's full passes then visit: 200 accounts' memory databases took those passes from
    2 to 20 ms within 10 minutes, every 20 s, while a scrape waited."""

    def __init__(self, directory: Path | None, account: str):
        self.path = directory / f"{account}.sqlite" if directory is not None else None
        self._memory: sqlite3.Cursor | None = None
        self._lock = threading.Lock()  # the memory database: one transaction at a time

    @contextlib.contextmanager
    def transaction(self, uid: str, collector: str) -> Iterator[Ledger]:
        """A Ledger inside one transaction, committed when the block ends without an
        exception. Any failure of the storage is a StorageError naming the path."""
        import sqlite3
        with self._lock if self.path is None else contextlib.nullcontext():
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                yield Ledger(db, uid, collector)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(db)
                raise self._failure(exc) from None
            except BaseException:
                _rollback(db)
                raise
            finally:
                if self.path is not None:
                    db.connection.close()

    def _connect(self) -> sqlite3.Cursor:
        import sqlite3
        if self.path is None:
            if self._memory is None:
                self._memory = _open(":memory:").cursor()
            return self._memory
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return _open(str(self.path)).cursor()
        except OSError as exc:
            raise StorageError(f"cannot open {self.path}: {exc.strerror or exc}") from None
        except sqlite3.Error as exc:
            raise self._failure(exc) from None
        except NewerState as exc:
            raise StorageError(f"{self.path} was written by a newer release ({exc}): left as "
                               "it is; run that release, or move the file away to start new "
                               "totals") from None

    def _failure(self, exc: sqlite3.Error) -> StorageError:
        where = self.path or "the state in memory"
        if self.path is not None and getattr(exc, "sqlite_errorcode", None) in UNREADABLE_CODES:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            try:
                os.replace(self.path, aside)
            except OSError as move:
                return StorageError(f"{where} is unreadable ({exc}) and cannot be moved aside: "
                                    f"{move.strerror or move}")
            return StorageError(f"{where} is unreadable ({exc}): kept as {aside}; the totals "
                                "start again from zero")
        return StorageError(f"{where}: {exc}")


def _progress_key(source: Source, sweep: bool) -> str:
    return f"{source.name}#sweep" if sweep else source.name


def _open(name: str) -> sqlite3.Connection:
    """A connection to the state, its schema brought up to date (exporter.service.
    ledger_schema): sqlite3.Error, or NewerState for a state this release must not touch."""
    import sqlite3
    db = sqlite3.connect(name, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None,
                         check_same_thread=False)
    try:
        bring_up_to_date(db)
    except BaseException:
        db.close()
        raise
    return db


def _rollback(db: sqlite3.Cursor) -> None:
    import sqlite3
    with contextlib.suppress(sqlite3.Error):
        if db.connection.in_transaction:
            db.execute("ROLLBACK")


class LedgerFiles:
    """Every account's state, kept across config reloads: a reloaded account keeps its totals
    even without a storage directory."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self._files: dict[str, LedgerFile] = {}
        self._lock = threading.Lock()

    def of(self, account: str) -> LedgerFile:
        with self._lock:
            return self._files.setdefault(account, LedgerFile(self.directory, account))

    def keep_only(self, accounts: Iterable[str]) -> None:
        with self._lock:
            wanted = set(accounts)
            self._files = {name: f for name, f in self._files.items() if name in wanted}
