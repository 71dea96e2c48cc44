"""CRC-32 of a concatenation from the CRC-32s of its parts, so that a gzip body's checksum is
had without keeping (or reading again) the plain text it was compressed from.

`Concatenation` keeps the parts of one metric family in slots and their combined CRC in a
binary tree: changing a part costs log2(slots) combinations, reading the whole costs none.
"""

from __future__ import annotations

import ctypes
import functools
from array import array
from typing import Callable

_POLY = 0xEDB88320  # CRC-32 (gzip's), reflected
_X0 = 1 << 31  # the polynomial 1 (x^0) in the reflected representation


def _multiply(a: int, b: int) -> int:
    """a * b modulo the CRC polynomial (zlib's multmodp)."""
    mask, product = _X0, 0
    while True:
        if a & mask:
            product ^= b
            if a & (mask - 1) == 0:
                return product
        mask >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> tuple[int, ...]:
    """x^(2^k) modulo the polynomial, k = 0..31."""
    powers = [_X0 >> 1]  # x^1
    for _ in range(31):
        powers.append(_multiply(powers[-1], powers[-1]))
    return tuple(powers)


_X_TO_2_TO_THE = _powers()


def combine_python(crc1: int, crc2: int, length2: int) -> int:
    """CRC-32 of A+B from crc1 = CRC(A), crc2 = CRC(B) and len(B) (zlib's crc32_combine)."""
    shift, k = _X0, 3  # x^(8 * length2): one factor per set bit of length2
    while length2:
        if length2 & 1:
            shift = _multiply(_X_TO_2_TO_THE[k & 31], shift)
        length2 >>= 1
        k += 1
    return _multiply(shift, crc1) ^ crc2


@functools.cache
def combiner() -> Callable[[int, int, int], int]:
    """zlib's own crc32_combine (about 100 times faster), or the same in Python where the zlib
    library cannot be loaded. PyDLL: the call is too short to be worth releasing the
    interpreter lock, and releasing it would make a poll thread wait to take it back."""
    for name in ("libz.so.1", "libz.dylib", "libz.so"):
        try:
            library = ctypes.PyDLL(name)
            function = library.crc32_combine
        except (OSError, AttributeError):
            continue
        function.argtypes = (ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long)
        function.restype = ctypes.c_ulong
        combine: Callable[[int, int, int], int] = function
        if combine(0x12345678, 0x9ABCDEF0, 1000) == combine_python(0x12345678, 0x9ABCDEF0,
                                                                    1000):
            return combine
    return combine_python


class Concatenation:
    """Parts in slots, in slot order, with the CRC-32 and length of all of them joined.
    An empty slot is an empty part."""

    __slots__ = ("_combine", "_crc", "_size", "_leaves")

    def __init__(self, combine: Callable[[int, int, int], int] | None = None) -> None:
        self._combine = combine or combiner()
        self._leaves = 1
        self._crc = array("L", [0, 0])  # node i has children 2i and 2i + 1; leaves from _leaves
        self._size = array("Q", [0, 0])

    @property
    def crc(self) -> int:
        return self._crc[1]

    @property
    def size(self) -> int:
        return self._size[1]

    def set(self, slot: int, crc: int, size: int) -> None:
        while slot >= self._leaves:
            self._grow()
        node = self._leaves + slot
        self._crc[node], self._size[node] = crc, size
        self._update_above(node)

    def _update_above(self, node: int) -> None:
        crcs, sizes = self._crc, self._size
        while node > 1:
            node >>= 1
            left, right = 2 * node, 2 * node + 1
            crcs[node] = self._combine(crcs[left], crcs[right], sizes[right]) \
                if sizes[right] else crcs[left]
            sizes[node] = sizes[left] + sizes[right]

    def _grow(self) -> None:
        """Twice the leaves: the old tree becomes the left half, each level one level down."""
        old = self._leaves
        crcs, sizes = array("L", [0]) * (4 * old), array("Q", [0]) * (4 * old)
        level = 1  # the old level of nodes level .. 2 * level - 1
        while level <= old:
            crcs[2 * level:3 * level] = self._crc[level:2 * level]
            sizes[2 * level:3 * level] = self._size[level:2 * level]
            level *= 2
        crcs[1], sizes[1] = crcs[2], sizes[2]  # the new root: the old root and an empty half
        self._crc, self._size, self._leaves = crcs, sizes, 2 * old
