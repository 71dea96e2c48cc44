"""Taking Bybit's answers apart: the checks every translation makes of an answer's shape, the
error an answer of the wrong shape is (nothing of it is exported), and the cursor of the next
page. Pure; what an endpoint declares is in exporter.bybit.endpoint."""

from __future__ import annotations

from typing import Any, Iterator, Mapping


class InvalidResponse(ValueError):
    """The answer does not have the shape of the endpoint's answer: nothing of it is exported."""


def result_of(payload: Any) -> dict[str, Any]:
    """The `result` object of an answer, or InvalidResponse."""
    if not isinstance(payload, dict):
        raise InvalidResponse("body is not a JSON object")
    result = payload.get("result")
    if not isinstance(result, dict):
        raise InvalidResponse("result is missing")
    return result


def list_of(container: Mapping[str, Any], key: str, where: str, limit: int = 10_000,
            required: bool = True) -> list[dict[str, Any]]:
    """A list of objects under `key`; a missing list is empty unless required."""
    items = container.get(key)
    if items is None and not required:
        return []
    if not isinstance(items, list):
        raise InvalidResponse(f"{where}.{key} is not a list")
    if len(items) > limit:
        raise InvalidResponse(f"more than {limit} entries in {where}.{key}")
    if not all(isinstance(item, dict) for item in items):
        raise InvalidResponse(f"an entry of {where}.{key} is not an object")
    return items


def next_cursor(payload: Any, list_key: str = "list") -> str:
    """The cursor of the next page, exactly as Bybit gave it (already URL-encoded); "" on the
    last page: no cursor, or a page without rows."""
    result = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(result, dict) or not result.get(list_key):
        return ""
    cursor = result.get("nextPageCursor")
    return cursor if isinstance(cursor, str) else ""


def name_of(item: Mapping[str, Any], key: str, where: str) -> str:
    """An identifying name (coin, symbol...): a short printable string, or InvalidResponse."""
    name = item.get(key)
    if isinstance(name, int) and not isinstance(name, bool):
        name = str(name)
    if not isinstance(name, str) or not name or len(name) > 64 or not name.isprintable():
        raise InvalidResponse(f"an entry of {where} has no usable {key}")
    return name


def named_entries(container: Mapping[str, Any], key: str, name_key: str, where: str,
                  limit: int = 10_000) -> Iterator[tuple[str, dict[str, Any]]]:
    """The objects of an optional list, each with its name (coin, wallet, uid...); a name
    listed twice is not an answer."""
    seen: set[str] = set()
    for item in list_of(container, key, where, limit, required=False):
        name = name_of(item, name_key, f"{where}.{key}")
        if name in seen:
            raise InvalidResponse(f"{name_key} {name} listed twice")
        seen.add(name)
        yield name, item
