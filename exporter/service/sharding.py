"""Which accounts this process polls: an account belongs to exactly one of `total` shards, by a
stable hash of its name. Jump consistent hashing: going from n to n+1 shards moves only the
accounts the new shard takes (about 1/(n+1) of them), none between the old shards."""

from __future__ import annotations

import hashlib
import re
import socket
from dataclasses import dataclass
from typing import Iterable, Protocol, TypeVar

_ORDINAL = re.compile(r"-(\d+)$")
_MULTIPLIER = 2862933555777941757
_MASK = (1 << 64) - 1


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014)."""
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        key = (key * _MULTIPLIER + 1) & _MASK
        candidate = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


def shard_of(name: str, total: int) -> int:
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return jump_hash(key, total)


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


@dataclass(frozen=True)
class Shard:
    index: int = 0
    total: int = 1

    def owns(self, name: str) -> bool:
        return self.total == 1 or shard_of(name, self.total) == self.index

    def select(self, items: Iterable[T]) -> tuple[T, ...]:
        return tuple(item for item in items if self.owns(item.name))


def ordinal_from_hostname(hostname: str | None = None) -> int:
    """N from a StatefulSet pod's hostname, NAME-N; ValueError otherwise."""
    name = (hostname or socket.gethostname()).split(".")[0]
    match = _ORDINAL.search(name)
    if match is None:
        raise ValueError(f"hostname {name!r} does not end in -N (a StatefulSet pod's ordinal)")
    return int(match.group(1))
