"""Where a scrape's body comes from: each family's chunks of every target, filed in slots and
joined in blocks, and the assembly of every family's blocks into one deflate stream."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.metrics.crc import Concatenation, combiner
from exporter.metrics.deflate import Chunk, inflate
from exporter.metrics.snapshot import TargetKey

BLOCK_SLOTS = 16  # targets' chunks of a family joined into one part of a scrape's body


@dataclass(frozen=True)
class Body:
    parts: list[bytes]  # every chunk's deflated bytes, in order: joined only into a response
    crc: int  # CRC-32 of the plain text
    size: int  # length of the plain text

    def plain(self) -> bytes:
        return inflate(b"".join(self.parts))


class Filed:
    """One family's chunks of every target, each in a slot of its own: their deflated bytes in
    slot order (an empty slot is b""), the same joined in blocks of BLOCK_SLOTS slots, and the
    CRC-32 and length of their plain text joined. A scrape joins the blocks: reading 20,000
    small objects scattered over the heap, which a second of idling has pushed out of the CPU's
    caches, took it 0.9-1.8 ms (0.3 ms in blocks); a block is joined again (a few KB) when one
    of its slots changes. A block of one-line chunks is then compressed as one (see
    exporter.metrics.render.FastExposition._pack)."""

    __slots__ = ("slots", "free", "deflated", "blocks", "unpacked", "checksum")

    def __init__(self) -> None:
        self.slots: dict[TargetKey, int] = {}
        self.free: list[int] = []
        self.deflated: list[bytes] = []
        self.blocks: list[bytes] = []
        self.unpacked: set[int] = set()  # blocks joined again since their last packing
        self.checksum = Concatenation()

    def put(self, key: TargetKey, chunk: Chunk) -> int | None:
        """File a target's chunk; its block, if that has not been packed since it changed."""
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = self.free.pop() if self.free else len(self.deflated)
            if slot == len(self.deflated):
                self.deflated.append(b"")
        deflated, crc, size = chunk
        if self.deflated[slot] is not deflated:  # else the same chunk, filed again
            self.deflated[slot] = deflated
            self._join_block(slot)
            self.checksum.set(slot, crc, size)
        block = slot // BLOCK_SLOTS
        return block if block in self.unpacked else None

    def remove(self, key: TargetKey) -> int | None:
        """Empty a target's slot; the block it changed, if any."""
        slot = self.slots.pop(key, None)
        if slot is None:
            return None
        self.deflated[slot] = b""
        self._join_block(slot)
        self.checksum.set(slot, 0, 0)
        self.free.append(slot)
        return slot // BLOCK_SLOTS

    def packed(self, block: int, deflated: bytes | None) -> None:
        """A packing of the block as it stands: its text compressed as one (None: nothing to
        gain, a chunk in it being compressed already or the text short)."""
        if deflated is not None:
            self.blocks[block] = deflated
        self.unpacked.discard(block)

    def full(self, block: int) -> bool:
        slots = self.block_slots(block)
        return len(slots) == BLOCK_SLOTS and all(slots)

    def block_slots(self, block: int) -> list[bytes]:
        start = block * BLOCK_SLOTS
        return self.deflated[start:start + BLOCK_SLOTS]

    def _join_block(self, slot: int) -> None:
        block = slot // BLOCK_SLOTS
        if block == len(self.blocks):
            self.blocks.append(b"")
        start = block * BLOCK_SLOTS
        self.blocks[block] = b"".join(self.deflated[start:start + BLOCK_SLOTS])
        self.unpacked.add(block)


Section = tuple[Chunk, int, int, list[bytes]]  # header, CRC-32 and length of text, deflated


def assemble(sections: list[Section]) -> Body:
    """The parts of one deflate stream of every section, and the CRC-32 of its plain text,
    combined from the sections' own: a few hundred combinations, where checksumming the plain
    text (16 MB at 158k samples) took most of a scrape's time and needed that text kept."""
    combine = combiner()
    deflated: list[bytes] = []
    crc = size = 0
    for (header, header_crc, header_size), text_crc, text_size, packed in sections:
        for part_crc, part_size in ((header_crc, header_size), (text_crc, text_size)):
            if part_size:
                crc, size = combine(crc, part_crc, part_size), size + part_size
        deflated.append(header)
        deflated.extend(packed)
    return Body(deflated, crc, size)

