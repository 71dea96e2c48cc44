"""Money flows, read incrementally from Bybit's logs (the transaction log, deposit and withdrawal
records): what a log source is, what one row adds to the running totals, and the time windows
a poll asks for. All pure; the state that makes the totals survive a restart is in
service/ledger_state.py, the polling in service/ledger_poller.py."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from exporter.bybit.answers import InvalidResponse, list_of, result_of
from exporter.metrics.family import Family, Type
from exporter.metrics.fields import Reader, Sample, Translation, number

DAY_MS = 86_400_000
MAX_ROWS_PER_PAGE = 50
MAX_IDENTITY_CHARS = 256  # ids and transaction hashes: longer than a label value may be


def counter(name: str, help_text: str, *labels: str) -> Family:
    return Family(name, help_text, tuple(labels), Type.COUNTER)


class Increment(NamedTuple):
    family: Family
    labels: tuple[str, ...]  # values of family.labels, in order
    amount: Decimal  # never negative: counters only go up


@dataclass(frozen=True)
class Entry:
    """One row of a log, as the totals see it."""

    key: str  # tells the row apart from every other row of its source
    time_ms: int  # when it happened (a deposit: when it completed)
    increments: tuple[Increment, ...]


RowReader = Callable[[Mapping[str, Any], Reader, str], "Entry | None"]


@dataclass(frozen=True)
class Source:
    """One log: where it is, how wide a window one request may ask for, how far back a poll
    reads again for rows that arrive late, and what a row adds (None: not counted yet, e.g. a
    deposit still pending, so it is looked at again next time).

    A busy log would cost pages of rows already counted at every poll: there, polls read back
    only `light_overlap_ms`, and a sweep every `sweep_every_ms` reads back the whole overlap
    from where the last sweep ended, so a row up to `overlap_ms` late is still counted, by the
    next sweep at the latest. `sweep_every_ms` 0: every poll is a sweep."""

    name: str  # the key of its progress and seen rows in the state
    path: str
    query: str  # the fixed parameters
    uid_limit_per_second: float
    window_ms: int
    overlap_ms: int
    list_key: str  # result.<list_key> holds the rows
    entry: RowReader
    sweep_every_ms: int = 0
    light_overlap_ms: int = 0

    def rows(self, payload: Any) -> list[dict[str, Any]]:
        return list_of(result_of(payload), self.list_key, "result", MAX_ROWS_PER_PAGE,
                       required=False)

    def entries(self, payload: Any, reader: Reader) -> list[Entry]:
        found = []
        for index, row in enumerate(self.rows(payload)):
            entry = self.entry(row, reader, f"{self.name} row {index}")
            if entry is not None:
                found.append(entry)
        return found


def windows(start_ms: int, end_ms: int, width_ms: int) -> list[tuple[int, int]]:
    """[start, end] walked forward in windows of at most `width_ms`."""
    spans, start = [], start_ms
    while start < end_ms:
        spans.append((start, min(start + width_ms, end_ms)))
        start = spans[-1][1]
    return spans


Totals = dict[tuple[Family, tuple[str, ...]], Decimal]


def add(totals: Totals, entry: Entry) -> None:
    for family, labels, value in entry.increments:
        totals[(family, labels)] = totals.get((family, labels), Decimal(0)) + value


def samples(totals: Mapping[tuple[Family, tuple[str, ...]], Decimal]) -> tuple[Sample, ...]:
    return tuple(Sample(family, labels, float(value))
                 for (family, labels), value in sorted(totals.items(),
                                                       key=lambda item: (item[0][0].name,
                                                                         item[0][1])))


def count_pages(sources: Sequence[Source], payloads: Sequence[Any]) -> Translation:
    """The totals that these pages alone give, each distinct row once (payload i is a page of
    source i): what a first poll would count, and the pure translation of the endpoint."""
    reader, totals, seen = Reader(), Totals(), set()
    for source, payload in zip(sources, payloads):
        for entry in source.entries(payload, reader):
            if (source.name, entry.key) not in seen:
                seen.add((source.name, entry.key))
                add(totals, entry)
    return Translation(samples(totals), tuple(reader.unreadable))


def translation_of(sources: Sequence[Source]) -> Callable[[Sequence[Any], object], Translation]:
    """The endpoint's translation: the logs' pages, counted; it needs no context (labels,
    prices) of the target."""

    def translate(payloads: Sequence[Any], _context: object) -> Translation:
        if len(payloads) != len(sources):
            raise InvalidResponse("one answer per log expected")
        return count_pages(sources, payloads)

    return translate


Series = tuple[Family, tuple[str, ...]]  # a family and its label values


def by_sign(value: Decimal | None, positive: Series | None, negative: Series | None = None
            ) -> tuple[Increment, ...]:
    """The increment for a signed amount: to the positive series, or its absolute value to the
    negative one; nothing for zero or no value."""
    if value is None or value == 0:
        return ()
    chosen = positive if value > 0 else negative
    return () if chosen is None else (Increment(*chosen, abs(value)),)


def identity(row: Mapping[str, Any], reader: Reader, where: str, keys: Sequence[str]
             ) -> tuple[str, ...] | None:
    """The texts that identify a row; None (and the row noted unreadable) when one is
    missing or unreadable: a row that cannot be told apart from others is never counted."""
    values = []
    for key in keys:
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value or len(value) > MAX_IDENTITY_CHARS \
                or not value.isprintable():
            reader.note(where, key, value)
            return None
        values.append(value)
    return tuple(values)


def millis(row: Mapping[str, Any], reader: Reader, where: str, key: str) -> int | None:
    """A time in milliseconds since the epoch (Bybit sends strings, once numbers; a value
    below 10^11 is in seconds); None, noted unreadable, when missing or not a time."""
    value = row.get(key)
    try:
        parsed = number(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed <= 0:
        reader.note(where, key, value)
        return None
    return int(parsed * 1000) if parsed < 1e11 else int(parsed)

