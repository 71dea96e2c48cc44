"""Chunks: text deflated so that a scrape only joins bytes. Every chunk is a raw deflate stream
of its own, ended with a sync flush (byte-aligned, not final, no back-references outside
itself), so chunks can be concatenated in any order into one valid deflate stream (as can a
block of one-line chunks compressed again as one). A gzip body is then its header, the chunks,
an empty final block and the CRC-32 of the plain text, combined from the chunks' own CRC-32s
(exporter.metrics.crc): the plain text is not kept."""

from __future__ import annotations

import struct
import zlib
from typing import Iterable

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime
DEFLATE_FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set
COMPRESS_LEVEL = 6
PACK_LEVEL = 1  # a block of one-line chunks: as small as at level 6, in three quarters the time
# Chunks are a few KB: a 4 KB window and small memory level compress them as well as the
# defaults, and allocating the compressor is 5x cheaper.
WINDOW_BITS, MEMORY_LEVEL = 12, 4
STORE_BELOW = 256  # bytes; one or two lines gain little from compression

# (deflated bytes, CRC-32 of the plain text, its length). A plain tuple of atomic values, which
# the garbage collector stops tracking (a NamedTuple it would track: 17,000 more objects in
# each of its full passes, which hold the interpreter lock while a scrape waits).
Chunk = tuple[bytes, int, int]


def inflate(deflated: bytes) -> bytes:
    """The plain text of raw deflate data (a chunk's, or a whole body's)."""
    return zlib.decompressobj(-zlib.MAX_WBITS).decompress(deflated)


def chunk_text(chunk: Chunk) -> bytes:
    return inflate(chunk[0])


def stored_block(plain: bytes) -> bytes:
    """A deflate block that stores `plain` as it is (at most 65,535 bytes per block)."""
    blocks = [plain[i:i + 0xFFFF] for i in range(0, len(plain), 0xFFFF)]
    return b"".join(b"\x00" + struct.pack("<HH", len(b), len(b) ^ 0xFFFF) + b for b in blocks)


def stored_text(deflated: bytes) -> bytes | None:
    """The plain text of deflated bytes that are one stored block (as stored_block makes for
    fewer than 65,536 bytes), else None."""
    if not deflated:
        return b""
    if deflated[0] != 0 or len(deflated) != 5 + int.from_bytes(deflated[1:3], "little"):
        return None
    return deflated[5:]


def stored_texts(chunks: Iterable[bytes]) -> bytes | None:
    """The plain text of deflated chunks that are all stored, joined; else None."""
    texts = []
    for deflated in chunks:
        text = stored_text(deflated)
        if text is None:
            return None
        texts.append(text)
    return b"".join(texts)


def deflate(plain: bytes, level: int = COMPRESS_LEVEL) -> bytes:
    """A chunk's deflated bytes: stored as they are if short, else compressed."""
    if len(plain) < STORE_BELOW:  # not worth a compressor: a stored (uncompressed) block
        return stored_block(plain)
    compressor = zlib.compressobj(level, zlib.DEFLATED, -WINDOW_BITS, MEMORY_LEVEL)
    return compressor.compress(plain) + compressor.flush(zlib.Z_SYNC_FLUSH)


def make_chunk(plain: bytes, crc: int | None = None) -> Chunk:
    return deflate(plain), zlib.crc32(plain) if crc is None else crc, len(plain)


def pack(plain: bytes) -> bytes | None:
    """A block of stored one-line chunks compressed as one; None when too short to gain."""
    return deflate(plain, PACK_LEVEL) if len(plain) >= STORE_BELOW else None
