"""Running totals from Bybit's logs: for any rows, delivered in any pages, late, again and again
through the overlap, with failed polls and restarts between polls, every counter equals the sum
over the distinct rows counted from the first start on."""

from __future__ import annotations

import gc
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from exporter.bybit.client import Response
from exporter.bybit.endpoints import transactions
from exporter.bybit.errors import PollError
from exporter.bybit.ledger import DAY_MS, Totals, add
from exporter.config import Account, Secret
from exporter.metrics.fields import Reader
from exporter.metrics.reasons import Reason
from exporter.service.ledger_poller import LedgerPoller
from exporter.service.ledger_state import LedgerFile
from exporter.service.store import Store, TargetKey, TargetSpec

ACCOUNT = Account(name="a", api_key=Secret("KEY123"), api_secret=Secret("s"), rsa_private_key=None,
                  account_types=("UNIFIED",), coins=(), endpoint="https://api.bybit.com",
                  recv_window_ms=5000, poll_interval=60.0)
START_MS = 1_780_000_000_000
OVERLAP_MS = transactions.SOURCE.overlap_ms
KEY = TargetKey("a", "transactions", (("collector", "transactions"),))


@dataclass
class Clock:
    now: int = START_MS

    def now_ms(self) -> int:
        return self.now


@dataclass
class LogServer:
    """The transaction log and query-api as Bybit answers them, in-process: rows newest first
    in pages of `page_size`, each visible once it has arrived, cursors URL-encoded."""

    rows: list[dict[str, str]]
    page_size: int
    uid: int = 1001
    clock: Clock = field(default_factory=Clock)
    fail_next: int = 0  # the next n requests fail, as a network error would
    requests: int = 0

    def get(self, path: str, query: str, uid_limit_per_second: float = 50) -> Response:
        self.requests += 1
        if self.fail_next:
            self.fail_next -= 1
            raise PollError(Reason.NETWORK, "connection reset")
        if path == "/v5/user/query-api":
            return Response({"retCode": 0, "result": {"userID": self.uid}}, None)
        params = dict(urllib.parse.parse_qsl(query))
        start, end = int(params["startTime"]), int(params["endTime"])
        assert 0 <= end - start <= 7 * DAY_MS, "Bybit refuses windows over 7 days"
        assert "%" not in params.get("cursor", ""), "the cursor was encoded twice"
        offset = int(params.get("cursor", "0:0").split(":")[0])
        visible = sorted((row for row in self.rows if start <= int(row["transactionTime"]) <= end
                          and row["_arrives"] <= self.clock.now),
                         key=lambda row: -int(row["transactionTime"]))
        page = [{k: v for k, v in row.items() if k != "_arrives"}
                for row in visible[offset:offset + self.page_size]]
        more = offset + self.page_size < len(visible)
        cursor = urllib.parse.quote(f"{offset + self.page_size}:1,7", safe="") if more else ""
        return Response({"retCode": 0, "result": {"nextPageCursor": cursor, "list": page}}, 49)


class Client:
    """What LedgerPoller uses of BybitClient, backed by the in-process log."""

    def __init__(self, server: LogServer):
        self.server, self.account, self.clock = server, ACCOUNT, server.clock

    def get(self, path: str, query: str, uid_limit_per_second: float = 50,
            priority: bool = False) -> Response:
        return self.server.get(path, query, uid_limit_per_second)


def poller(server: LogServer, directory: Path | None, store: Store,
           since_seconds: float = 0.0) -> LedgerPoller:
    state = LedgerFile(directory, "a")
    return LedgerPoller(transactions.ENDPOINT, Client(server), store,  # type: ignore[arg-type]
                        60.0, state, since_seconds)


def new_store() -> Store:
    store = Store(stale_after=3600)
    store.set_targets({KEY: TargetSpec(transactions.ENDPOINT.health, 60.0)})
    return store


def exported(store: Store) -> dict[tuple[str, tuple[str, ...]], Decimal]:
    state = next(s for s in store.states() if s.key == KEY)
    assert state.translation is not None, state.failure_reason
    return {(s.family.name, s.labels): Decimal(repr(s.value)) for s in state.translation.samples}


def expected(rows: list[dict[str, str]], origin_ms: int) -> dict[tuple[str, tuple[str, ...]],
                                                                   Decimal]:
    """The oracle: each distinct row (id, type, time and currency) from the origin on, once."""
    totals, seen = Totals(), set()
    for row in rows:
        identity = (row["id"], row["type"], row["transactionTime"], row["currency"])
        if int(row["transactionTime"]) < origin_ms or identity in seen:
            continue
        seen.add(identity)
        entry = transactions.entry({k: v for k, v in row.items() if k != "_arrives"}, Reader(), "")
        assert entry is not None
        add(totals, entry)
    return {(family.name, labels): Decimal(repr(float(value)))
            for (family, labels), value in totals.items()}


AMOUNTS = st.decimals(min_value=-1000, max_value=1000, places=8, allow_nan=False,
                      allow_infinity=False).map(lambda d: format(d, "f"))
ROW = st.fixed_dictionaries({
    "id": st.sampled_from(["1", "2", "3", "L-I-I-1"]),  # few ids: types share them
    "type": st.sampled_from(["TRADE", "SETTLEMENT", "INTEREST", "TRANSFER_IN", "TRANSFER_OUT",
                             "LIQUIDATION", "A_NEW_TYPE"]),
    "currency": st.sampled_from(["USDT", "BTC"]),
    "category": st.sampled_from(["linear", "spot", ""]),
    "offset": st.integers(-20 * 60_000, 40 * 60_000),  # time from the first poll
    "delay": st.integers(0, OVERLAP_MS),  # how late it shows up in the log
    "fee": AMOUNTS | st.just(""), "funding": AMOUNTS | st.just(""),
    "cashFlow": AMOUNTS, "change": AMOUNTS,
})


def as_row(spec: dict) -> dict:  # type: ignore[type-arg]
    time_ms = START_MS + spec["offset"]
    row = {k: v for k, v in spec.items() if k not in ("offset", "delay")}
    return {**row, "transactionTime": str(time_ms), "_arrives": time_ms + spec["delay"]}


# what happens before each poll: time passes, and maybe a restart or a failing request
STEP = st.tuples(st.integers(1_000, 5 * 60_000), st.booleans(), st.integers(0, 2))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(specs=st.lists(ROW, max_size=40), page_size=st.integers(1, 7),
       steps=st.lists(STEP, min_size=1, max_size=14), in_memory=st.booleans())
def test_every_counter_is_the_sum_over_the_distinct_rows(tmp_path_factory, specs, page_size,
                                                        steps, in_memory):
    directory = None if in_memory else tmp_path_factory.mktemp("state")
    rows = [as_row(spec) for spec in specs]
    rows += rows[: len(rows) // 3]  # the same row listed twice
    server = LogServer(rows, page_size)
    store = new_store()
    current = poller(server, directory, store)
    current.poll()
    for advance, restart, failures in steps:
        server.clock.now += advance
        if restart and not in_memory:  # memory does not survive a restart: files do
            store = new_store()
            current = poller(server, directory, store)
        server.fail_next = failures
        current.poll()
        current.not_before = 0.0
    # Then every row has arrived, and the next sweep of the overlap counts the late ones
    server.clock.now = max([START_MS] + [row["_arrives"] for row in rows]) + 60_000
    server.fail_next = 0
    current.poll()
    server.clock.now += transactions.SOURCE.sweep_every_ms
    current.poll()
    assert exported(store) == expected(rows, START_MS)


def test_a_backfill_walks_forward_in_windows_bybit_accepts(tmp_path):
    day_rows = [as_row({"id": str(day), "type": "TRADE", "currency": "USDT",
                        "category": "linear", "offset": -day * DAY_MS, "delay": 0,
                        "fee": "0.5", "funding": "", "cashFlow": "1", "change": "0.5"})
                for day in range(1, 30)]
    server = LogServer(day_rows, page_size=50)
    store = new_store()
    backfill = poller(server, tmp_path, store, since_seconds=20 * 86400)
    backfill.poll()  # three windows of at most 7 days (the server refuses wider ones)
    totals = exported(store)  # days 1 to 20 back: the 20th is the origin itself
    assert totals[("bybit_trading_fees_paid_total", ("USDT", "linear"))] == Decimal("10")
    assert totals[("bybit_transactions_total", ("TRADE",))] == 20
    assert server.requests == 1 + 3  # the UID, then the windows


def test_a_name_pointed_at_another_bybit_account_starts_fresh_totals(tmp_path):
    row = as_row({"id": "1", "type": "TRANSFER_IN", "currency": "USDT", "category": "",
                  "offset": 1000, "delay": 0, "fee": "", "funding": "", "cashFlow": "100",
                  "change": "100"})
    server = LogServer([row], page_size=50)
    store = new_store()
    poller(server, tmp_path, store).poll()
    server.clock.now += 60_000
    poller(server, tmp_path, store).poll()
    assert exported(store)[("bybit_transfers_in_total", ("USDT",))] == 100
    other = LogServer([], page_size=50, uid=2002, clock=server.clock)
    poller(other, tmp_path, store).poll()
    assert exported(store) == {}
    poller(server, tmp_path, store).poll()  # and back: the first account's totals are kept
    assert exported(store)[("bybit_transfers_in_total", ("USDT",))] == 100


def test_polls_of_a_memory_ledger_leave_nothing_for_the_garbage_collector():
    """Without a storage directory an account's database lives as long as the process; its
    polls must not leave objects that the collector's full passes visit (which a scrape waits
    for): the number of objects it tracks stays level over hundreds of polls."""
    row = as_row({"id": "1", "type": "TRADE", "currency": "USDT", "category": "linear",
                  "offset": 1000, "delay": 0, "fee": "0.5", "funding": "", "cashFlow": "1",
                  "change": "0.5"})
    server, store = LogServer([row], page_size=50), new_store()
    polling = poller(server, None, store)
    tracked = []
    gc.collect()
    gc.disable()  # what other tests left behind is not collected meanwhile
    try:
        for round_ in range(300):
            polling.poll()
            server.clock.now += 60_000
            if round_ >= 20 and round_ % 5 == 0:
                tracked.append(len(gc.get_objects()))
    finally:
        gc.enable()
    assert exported(store)[("bybit_trading_fees_paid_total", ("USDT", "linear"))] == \
        Decimal("0.5")
    assert max(tracked) - min(tracked) < 50, (min(tracked), max(tracked))


@pytest.mark.parametrize("damage", ["corrupt", "not_a_file", "no_directory"])
def test_a_broken_state_fails_the_collector_with_reason_storage(tmp_path, damage):
    server = LogServer([], page_size=50)
    store = new_store()
    directory, path = tmp_path, tmp_path / "a.sqlite"
    if damage == "corrupt":
        path.write_bytes(b"this is not a database" * 100)
    elif damage == "not_a_file":
        path.mkdir()
    else:
        (tmp_path / "file").write_text("a file where the directory should be")
        directory, path = tmp_path / "file", tmp_path / "file" / "a.sqlite"
    poller(server, directory, store).poll()
    state = next(s for s in store.states() if s.key == KEY)
    assert (state.up, state.failure_reason) == (False, Reason.STORAGE)
    assert str(path) in state.failure_message
    if damage == "corrupt":
        kept = [p for p in tmp_path.iterdir() if p.name.startswith("a.sqlite.unreadable-")]
        assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not a database")
        poller(server, tmp_path, store).poll()  # next poll: fresh totals, collector up
        assert next(s for s in store.states() if s.key == KEY).up
