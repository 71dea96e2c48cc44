"""The CRC-32 of a concatenation, from its parts' CRC-32s, is the CRC-32 of the joined bytes."""

import zlib

from hypothesis import given, settings, strategies as st

from exporter.metrics.crc import Concatenation, combine_python, combiner

parts = st.binary(max_size=300)


@given(first=parts, second=parts)
def test_combining_two_crcs_gives_the_crc_of_the_joined_bytes(first, second):
    expected = zlib.crc32(first + second)
    assert combine_python(zlib.crc32(first), zlib.crc32(second), len(second)) == expected
    assert combiner()(zlib.crc32(first), zlib.crc32(second), len(second)) == expected


def test_zlib_own_combine_is_used_where_it_loads():
    assert combiner() is not combine_python  # libz.so.1 is on every Debian machine


@settings(max_examples=200)
@given(changes=st.lists(st.tuples(st.integers(0, 70), parts), max_size=60),
       use_python=st.booleans())
def test_a_concatenation_follows_any_changes_of_its_slots(changes, use_python):
    concatenation = Concatenation(combine_python if use_python else None)
    slots: dict[int, bytes] = {}
    for slot, data in changes:  # b"" empties a slot
        slots[slot] = data
        concatenation.set(slot, zlib.crc32(data), len(data))
        joined = b"".join(slots.get(i, b"") for i in range(max(slots) + 1))
        assert (concatenation.crc, concatenation.size) == (zlib.crc32(joined), len(joined))
