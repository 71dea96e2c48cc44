"""Bybit's fields, each read on its own (the field catalogue).

A field's kind says which values it allows. "" (or a missing field) means "not applicable":
no series. A value its kind does not allow is an unreadable field: it loses its own series
only, is counted in `bybit_invalid_fields` and named in one log line; the rest of the answer
is exported as usual. Whether there is an answer at all is decided by its shape, not here.
"""

from __future__ import annotations

import array
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple

from exporter.metrics.family import Family

_DECIMAL = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_FLAG_WORDS = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0}
PREVIEW_CHARS = 40
MAX_LABEL_CHARS = 64


class Unreadable(ValueError):
    """A value that the field's kind does not allow."""


def number(value: Any) -> float | None:
    """A finite number, from a decimal string or a JSON number."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _DECIMAL.match(value):
        result = float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise Unreadable("not a number")
    if not math.isfinite(result):
        raise Unreadable("not a finite number")
    return result


def amount(value: Any) -> Decimal | None:
    """An exact decimal amount of money, for running totals that must not drift with float
    rounding: from a decimal string, or a JSON integer."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _DECIMAL.match(value) and len(value) <= 64:
        result = Decimal(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    else:
        raise Unreadable("not a decimal amount")
    if not result.is_finite() or abs(result) > Decimal("1e30"):
        raise Unreadable("not a plausible amount")
    return result


def flag(value: Any) -> float | None:
    """1 or 0 from a JSON boolean, 0/1, or "true", "false", "1", "0"."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.lower() in _FLAG_WORDS:
        return _FLAG_WORDS[value.lower()]
    raise Unreadable("not a flag")


def timestamp(value: Any) -> float | None:
    """Unix seconds from an ISO 8601 time such as 2026-01-01T00:00:00Z; the epoch itself is
    Bybit's way of saying "never", so it is no value."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unreadable("not a time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unreadable("not a time") from None
    if parsed.tzinfo is None:
        raise Unreadable("a time without a time zone")
    seconds = parsed.timestamp()
    return None if seconds <= 0 else seconds


def nonzero(value: Any) -> float | None:
    """A number where 0 means "none set", as Bybit sends a stop loss or take profit that is
    not set ("0.00"; "" elsewhere)."""
    result = number(value)
    return None if result == 0 else result


def rank(value: Any) -> float | None:
    """A whole number >= 0, from a JSON integer or a string of digits; 0 is no rank."""
    return float(_whole(value, 6, "not a rank") or 0) or None


def millis_time(value: Any) -> float | None:
    """Unix seconds from milliseconds since the epoch (a JSON integer or a string of digits);
    0 is no time."""
    return (_whole(value, 16, "not a time in milliseconds") or 0) / 1000 or None


def _whole(value: Any, digits: int, unreadable: str) -> int | None:
    """A whole number >= 0 of at most `digits` digits, from a JSON integer or a string."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= digits:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**digits:
        return value
    raise Unreadable(unreadable)


def milliseconds(value: Any) -> float | None:
    """Seconds from a duration in milliseconds (a number)."""
    result = number(value)
    return None if result is None else result / 1000


def text(value: Any) -> str | None:
    """A short printable string, for a label value."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Unreadable("not a text")
    result = str(value)
    if len(result) > MAX_LABEL_CHARS or not result.isprintable():
        raise Unreadable("not a usable label value")
    return result


def bound_list(value: Any) -> float | None:
    """1 if a list of addresses binds something, 0 for [] or ["*"] (bound to nothing)."""
    if value is None or value == "":
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Unreadable("not a list of addresses")
    return 0.0 if value in ([], ["*"]) else 1.0


Kind = Callable[[Any], Any]
UNREADABLE_EXAMPLES: Mapping[Kind, tuple[Any, ...]] = {
    number: ("abc", "NaN", "1e999", "1,5", {}, [1], True),
    amount: ("abc", "NaN", "1e999", "1,5", {}, [1], True, 0.5),
    flag: ("yes", 2, {}, [], 0.5),
    timestamp: ("soon", 5, "2026-13-45T00:00:00Z", {}),
    nonzero: ("abc", "NaN", "1e999", "1,5", {}, [1], True),
    rank: ("high", -1, 1.5, "1.5", "-2", True, {}),
    millis_time: ("soon", -5, 1.5e12, "2026-12-06", True, {}),
    milliseconds: ("abc", "NaN", "1e999", "1,5", {}, [1], True),
    text: ({}, [], True, "x" * 100),
    bound_list: ("*", [1], {}, 3),
}


@dataclass(frozen=True)
class Field:
    """One documented field of an answer: its Bybit key, its kind, and the family its
    series goes to (None for a field read only as a label or as input to another series)."""

    key: str
    kind: Kind
    family: Family | None = None


def numbers(*rows: tuple[str, Family]) -> tuple[Field, ...]:
    return tuple(Field(key, number, family) for key, family in rows)


class Sample(NamedTuple):  # a tuple: thousands are made per poll, cheaply
    family: Family
    labels: tuple[str, ...]  # values of family.labels, in order
    value: float


class UnreadableField(NamedTuple):
    where: str  # e.g. coin BTC equity
    preview: str  # the first 40 characters of the value


class Translation:
    """One answer as samples, plus the fields that could not be read. Immutable.

    It is kept for as long as it is a target's latest answer, so it is stored in columns:
    about 18 bytes a sample, where a tuple and a float of its own would take about 100. The
    family of each sample is an index into the few families of the answer: a column of
    references to them would have the garbage collector visit every sample on each full pass
    (170,000 visits at 200 accounts), while tuples of strings drop out of its sight."""

    __slots__ = ("_families", "_family_index", "_labels", "_values", "unreadable")

    def __init__(self, samples: Iterable[Sample] = (),
                 unreadable: tuple[UnreadableField, ...] = ()):
        columns = tuple(zip(*samples)) or ((), (), ())
        # by id (families are constants), and with no loop in Python: a poll makes hundreds
        ids = tuple(map(id, columns[0]))
        families = dict(zip(ids, columns[0]))
        position = dict(zip(families, range(len(families))))
        self._families: tuple[Family, ...] = tuple(families.values())
        self._family_index = array.array("H", map(position.__getitem__, ids))
        self._labels: tuple[tuple[str, ...], ...] = columns[1]
        self._values = array.array("d", columns[2])
        self.unreadable = unreadable

    @property
    def samples(self) -> tuple[Sample, ...]:
        return tuple(map(Sample._make, self.rows()))

    def rows(self) -> Iterator[tuple[Family, tuple[str, ...], float]]:
        """The samples as plain tuples (family, labels, value): no Sample made for each."""
        return zip(map(self._families.__getitem__, self._family_index), self._labels,
                   self._values)

    def __len__(self) -> int:
        return len(self._values)

    def _key(self) -> tuple[object, ...]:
        return (self._families, self._family_index.tobytes(), self._labels,
                self._values.tobytes(), self.unreadable)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Translation) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Translation({self.samples!r}, {self.unreadable!r})"


@dataclass
class Reader:
    """Collects the samples of one answer, field by field."""

    samples: list[Sample] = field(default_factory=list)
    unreadable: list[UnreadableField] = field(default_factory=list)

    def read(self, source: Mapping[str, Any], item: Field, where: str) -> Any:
        value = source.get(item.key)
        try:
            return item.kind(value)
        except Unreadable:
            self.note(where, item.key, value)
            return None

    def note(self, where: str, key: str, value: Any) -> None:
        """An unreadable value: where it is, and the start of what it was."""
        self.unreadable.append(UnreadableField(f"{where} {key}".strip(), _preview(value)))

    def emit(self, family: Family, labels: tuple[str, ...], value: float | None) -> None:
        if value is not None:
            self.samples.append(Sample(family, labels, value))

    def fields(self, source: Mapping[str, Any], fields: tuple[Field, ...],
               labels: tuple[str, ...] = (), where: str = "") -> dict[str, Any]:
        """Read every field; emit the numeric ones that have a family. Returns what was read,
        by key, for fields that other series derive from."""
        values, samples = {}, self.samples
        for item in fields:  # read() and emit() inlined: this loop runs for every coin
            raw = source.get(item.key)
            try:
                value = item.kind(raw)
            except Unreadable:
                self.note(where, item.key, raw)
                value = None
            values[item.key] = value
            if item.family is not None and type(value) is float:
                samples.append(Sample(item.family, labels, value))
        return values

    def absorb(self, other: Reader, samples: bool = True) -> None:
        """Take another reader's unreadable fields, and its samples unless told not to."""
        self.unreadable.extend(other.unreadable)
        if samples:
            self.samples.extend(other.samples)

    def result(self) -> Translation:
        return Translation(tuple(self.samples), tuple(self.unreadable))


def _preview(value: Any) -> str:
    return str(value)[:PREVIEW_CHARS]
