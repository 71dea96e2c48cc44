"""Cursor pagination as Bybit answers it: `limit` rows a page and an opaque, URL-encoded cursor
of the next ("" when done). Like Bybit, a full last page still gets a cursor: the page after it
is empty."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import quote, unquote

Row = TypeVar("Row")


def page(rows: Sequence[Row], params: dict[str, str], default: int, maximum: int,
         name_of: Callable[[Row], str]) -> tuple[list[Row], str]:
    """One page of `rows`, and the cursor of the next; ValueError for a bad limit or cursor."""
    limit = _int(params.get("limit") or str(default), "limit")
    if not 1 <= limit <= maximum:
        raise ValueError(f"params error: limit must be 1-{maximum}")
    start = _offset(params.get("cursor", ""))
    chosen = list(rows[start:start + limit])
    if len(chosen) < limit:
        return chosen, ""
    return chosen, quote(f"{name_of(chosen[-1])},{start + limit},0", safe="")


def _offset(cursor: str) -> int:
    """The cursor came back decoded once by the query parser; accept it encoded twice, too."""
    if not cursor:
        return 0
    parts = unquote(cursor).split(",")
    return _int(parts[1] if len(parts) == 3 else "", "cursor")


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"params error: {name} is invalid") from None
