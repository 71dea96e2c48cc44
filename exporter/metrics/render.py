"""Fast /metrics. Each target's lines are rendered and deflated once, when its poll lands, one
chunk per metric family, and filed (in the polling thread) under their family; a scrape only
joins bytes, with no loop over targets or chunks in Python.

gzip without compressing at scrape time: every chunk is a raw deflate stream of its own, ended
with a sync flush (byte-aligned, not final, no back-references outside itself), so chunks can
be concatenated in any order into one valid deflate stream (as can a block of one-line chunks
compressed again as one, in the polling thread). The scrape adds the gzip header, an
empty final block and the CRC-32 of the plain text, combined from the chunks' own CRC-32s
(exporter.metrics.crc): the plain text is not kept.
"""

from __future__ import annotations

import heapq
import struct
import threading
import zlib
from dataclasses import dataclass
from itertools import chain
from typing import Callable, Iterable, Sequence

from prometheus_client import utils as prometheus_utils

from exporter.metrics.crc import Concatenation, combiner
from exporter.metrics.family import INVALID_FIELDS, Family
from exporter.metrics.reasons import REASONS
from exporter.metrics.snapshot import StateSource, TargetKey, TargetState

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime
DEFLATE_FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set
COMPRESS_LEVEL = 6
PACK_LEVEL = 1  # a block of one-line chunks: as small as at level 6, in three quarters the time
# Chunks are a few KB: a 4 KB window and small memory level compress them as well as the
# defaults, and allocating the compressor is 5x cheaper.
WINDOW_BITS, MEMORY_LEVEL = 12, 4
STORE_BELOW = 256  # bytes; one or two lines gain little from compression
BLOCK_SLOTS = 16  # targets' chunks of a family joined into one part of a scrape's body

_float_to_go: Callable[[float], str] = prometheus_utils.floatToGoString  # untyped upstream
# (family, label values in the family's order, value): exporter-wide series
ExporterSample = tuple[Family, tuple[str, ...], float]


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


def _chunks(lines: dict[str, list[str]], previous: dict[str, Chunk]) -> dict[str, Chunk]:
    """One chunk per family; a family whose text did not change keeps its compressed chunk
    (the same text: checked by inflating the old chunk, which is far cheaper than deflating,
    once its length and CRC-32 agree)."""
    chunks = {}
    for name, group in lines.items():
        plain = "".join(group).encode()
        crc = zlib.crc32(plain)
        old = previous.get(name)
        same = old is not None and old[1:] == (crc, len(plain)) and chunk_text(old) == plain
        chunks[name] = old if same and old is not None else make_chunk(plain, crc)
    return chunks


def escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def format_value(value: float) -> str:
    """floatToGoString for the finite values the translators let through, without its
    overhead on the common path; the same text either way."""
    text = repr(float(value))
    return _float_to_go(value) if value > 0 and text.find(".") > 6 else text


def _line(name: str, labels: str, value: float) -> str:
    return f"{name}{{{labels}}} {format_value(value)}\n"


def label_text(names: Sequence[str], values: Sequence[str]) -> str:
    return ",".join(f'{name}="{escape(value)}"' for name, value in zip(names, values))


def target_labels(account: str, labels: tuple[tuple[str, str], ...]) -> str:
    return label_text(("account", *(n for n, _ in labels)), (account, *(v for _, v in labels)))


@dataclass(frozen=True, slots=True)
class RenderedTarget:
    values: dict[str, Chunk]  # family -> this target's lines, from its last good answer
    health: dict[str, Chunk]


def render_target(state: TargetState, previous: RenderedTarget | None = None,
                  previous_state: TargetState | None = None) -> RenderedTarget:
    """Pure: the exposition lines of one target, grouped by family. What did not change is
    reused rather than compressed again: all the values of an unchanged answer, and the
    families whose text is the same (most of them, most of the time)."""
    labels = target_labels(state.key.account, state.key.labels)
    if previous is not None and previous_state is not None \
            and previous_state.translation == state.translation:
        values = previous.values
    else:
        values = _chunks(_value_lines(state, target_labels(state.key.account,
                                                           state.value_labels)),
                         previous.values if previous else {})
    return RenderedTarget(values, _chunks(_health_lines(state, labels),
                                          previous.health if previous else {}))


def _value_lines(state: TargetState, labels: str) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    full_labels: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}  # a coin's, once
    if state.translation is not None:
        for family, values, value in state.translation.rows():
            text = full_labels.get((family.labels, values))
            if text is None:
                extra = label_text(family.labels, values)
                text = full_labels[(family.labels, values)] = f"{labels},{extra}" if extra \
                    else labels
            lines.setdefault(family.name, []).append(
                f"{family.name}{{{text}}} {format_value(value)}\n")
    return lines


def _health_lines(state: TargetState, labels: str) -> dict[str, list[str]]:
    health = state.health
    lines = {health.up.name: [_line(health.up.name, labels, 1.0 if state.up else 0.0)],
             health.errors.name: [_line(health.errors.name, f'{labels},reason="{reason}"',
                                        state.errors[reason]) for reason in REASONS]}
    if state.failure_reason is not None:
        lines[health.failing.name] = [_line(health.failing.name,
                                            f'{labels},reason="{state.failure_reason}"', 1.0)]
    invalid = len(state.translation.unreadable) if state.translation is not None else None
    optional = ((health.last_success, state.last_success), (health.duration, state.duration),
                (health.rate_limit_remaining, state.rate_limit_remaining),
                (health.interval, state.interval), (INVALID_FIELDS, invalid))
    for family, value in optional:
        if value is not None:
            lines[family.name] = [_line(family.name, labels, value)]
    return lines


@dataclass(frozen=True)
class _Body:
    parts: list[bytes]  # every chunk's deflated bytes, in order: joined only into a response
    crc: int  # CRC-32 of the plain text
    size: int  # length of the plain text

    def plain(self) -> bytes:
        return inflate(b"".join(self.parts))


class FastExposition:
    """Renders each target when its state changes (in the polling thread, as a listener of
    the state source) and files its chunks under their families; a scrape joins the chunks of
    every family. The body's parts (references, not a joined copy: 2.7 MB less at 158k
    samples) and checksum are cached until a state changes or a target's values go stale. A
    scrape holds the lock only to copy the families' lists of chunks."""

    def __init__(self, store: StateSource, families: Sequence[Family],
                 exporter_samples: Callable[[], Iterable[ExporterSample]] = lambda: (),
                 extra: Callable[[], bytes] = lambda: b""):
        self.store = store
        self.order = tuple(family.name for family in families)
        self.headers = {family.name: make_chunk(family.header().encode()) for family in families}
        self.exporter_samples = exporter_samples
        self.extra = extra  # e.g. process metrics: small, rendered on every scrape
        self._rendered: dict[TargetKey, tuple[TargetState, RenderedTarget]] = {}
        self._filed = {name: _Filed() for name in self.order}  # each target's chunk, by family
        self._expiry: dict[TargetKey, float] = {}  # targets whose values are filed: stale after
        self._deadlines: list[tuple[float, TargetKey]] = []  # a heap of _expiry, and older ones
        self._stale_after = store.stale_after
        self._version = 0  # bumped on every change of what is filed
        self._lock = threading.Lock()  # guards the above; never held while rendering
        self._cache: tuple[tuple[object, ...], _Body] | None = None
        self._exporter_chunk: tuple[tuple[ExporterSample, ...], Chunk] | None = None
        store.listen(self._on_change, self._on_removed)

    def _on_change(self, state: TargetState, previous_state: TargetState | None) -> None:
        old = self._rendered.get(state.key)
        previous = old[1] if old is not None and old[0] is previous_state else None
        rendered = render_target(state, previous, previous_state)
        now = self.store.clock()
        with self._lock:
            # A reload may have forgotten the target (or replaced its state) while this was
            # rendered, outside the lock: filing it now would serve a removed account for good.
            if self.store.current(state.key) is not state:
                return
            self._rendered[state.key] = (state, rendered)
            touched = self._file(state.key, old[1] if old is not None else None, rendered,
                                 state, now)
            self._version += 1
        self._pack(touched, only_full=old is None or not old[0].attempted)

    def _pack(self, touched: list[tuple[_Filed, int]], only_full: bool) -> None:
        """Compress together the one-line chunks (stored as they are) in the blocks of a
        poll's target that changed since they were last packed: 16 lines of a family deflate
        to a seventh of their text, where each alone would gain nothing (1.2 of the 2.7 MB
        body at 158k samples were such lines). Done outside the lock, and put in place unless
        the block changed meanwhile; until then the block is served as it was joined, stored,
        the same text. After a target's first poll, only the blocks it filled: at a start
        every account's first polls land at once, and each block would be compressed again as
        each of its 16 accounts landed, while the others wait for the interpreter lock (120
        accounts were all up 50 ms later)."""
        with self._lock:
            wanted = [(filed, block, filed.blocks[block], filed.block_slots(block))
                      for filed, block in touched if not only_full or filed.full(block)]
        texts = [(filed, block, joined, stored_texts(slots))
                 for filed, block, joined, slots in wanted]
        packed = [(filed, block, joined, deflate(text, PACK_LEVEL)
                   if text is not None and len(text) >= STORE_BELOW else None)
                  for filed, block, joined, text in texts]
        with self._lock:
            for filed, block, joined, deflated in packed:
                if filed.blocks[block] is joined:  # unchanged: the same text as cached
                    filed.packed(block, deflated)

    def _on_removed(self, key: TargetKey) -> None:
        with self._lock:
            old = self._rendered.pop(key, None)
            if old is not None:
                self._unfile(key, (*old[1].values, *old[1].health))
                self._expiry.pop(key, None)
                self._version += 1

    def _file(self, key: TargetKey, old: RenderedTarget | None, new: RenderedTarget,
              state: TargetState, now: float) -> list[tuple[_Filed, int]]:
        """File a target's chunks: its health once its first poll attempt has ended (before
        that, it is not served at all), its values while they are fresh. Returns its blocks
        not packed since they changed."""
        fresh = state.attempted and state.fresh_translation(now, self._stale_after) is not None
        served = {**(new.values if fresh else {}), **(new.health if state.attempted else {})}
        touched = [] if old is None else self._unfile(
            key, [name for name in (*old.values, *old.health) if name not in served])
        for name, chunk in served.items():
            filed = self._filed.get(name)  # a family not served (not in `families`): None
            if filed is not None and (block := filed.put(key, chunk)) is not None:
                touched.append((filed, block))
        if fresh and state.last_success is not None:
            self._expiry[key] = state.last_success + self._stale_after
            self._deadline(key, self._expiry[key])
        else:
            self._expiry.pop(key, None)
        return touched

    def _deadline(self, key: TargetKey, expiry: float) -> None:
        """Push an expiry on the heap; past twice the targets, drop the outdated entries (a
        target's earlier expiries, left in place when it was polled again)."""
        heapq.heappush(self._deadlines, (expiry, key))
        if len(self._deadlines) > 2 * len(self._expiry) + 64:
            self._deadlines = [(expiry, key) for key, expiry in self._expiry.items()]
            heapq.heapify(self._deadlines)

    def _unfile(self, key: TargetKey, names: Iterable[str]) -> list[tuple[_Filed, int]]:
        touched = []
        for name in names:
            filed = self._filed.get(name)
            if filed is not None and (block := filed.remove(key)) is not None:
                touched.append((filed, block))
        return touched

    def _expire(self, now: float) -> None:
        """File again without its values each target whose values went stale, in the order
        they did: a scrape pays for the targets that expired since the last, not for all."""
        with self._lock:
            due = []
            while self._deadlines and self._deadlines[0][0] < now:
                due.append(heapq.heappop(self._deadlines))
            for expiry, key in due:
                if self._expiry.get(key) == expiry:  # not an outdated entry
                    state, rendered = self._rendered[key]
                    self._file(key, rendered, rendered, state, now)
                    self._version += 1

    def _refile_all(self, now: float) -> None:
        """File every target again: the staleness limit changed (with a reload)."""
        with self._lock:
            self._stale_after = self.store.stale_after
            self._expiry.clear()
            self._deadlines = []
            for key, (state, rendered) in self._rendered.items():
                self._file(key, rendered, rendered, state, now)
            self._version += 1

    def rendered(self, key: TargetKey) -> RenderedTarget | None:
        found = self._rendered.get(key)
        return found[1] if found is not None else None

    def render(self, gzip: bool) -> bytes:
        body = self._body()
        extra = self.extra()
        if not gzip:
            return body.plain() + extra
        tail = stored_block(extra) if extra else b""  # small: compressing it is not worth it
        crc = zlib.crc32(extra, body.crc)
        size = (body.size + len(extra)) & 0xFFFFFFFF
        return b"".join(chain((GZIP_HEADER,), body.parts, (tail, DEFLATE_FINAL_BLOCK,
                                                          struct.pack("<II", crc, size))))

    def _body(self) -> _Body:
        now = self.store.clock()
        first = self._deadlines[:1]  # one atomic read: polls push and scrapes pop meanwhile
        if self.store.stale_after != self._stale_after:
            self._refile_all(now)
        elif first and first[0][0] < now:
            self._expire(now)
        exporter = self._exporter_section()
        key = (self._version, exporter)
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._lock:  # C-speed copies of each family's list; no loop over targets
            version = self._version
            sections = [(self.headers[name], filed.checksum.crc, filed.checksum.size,
                         list(filed.blocks))
                        for name, filed in self._filed.items() if filed.slots]
        sections.append((exporter[1], 0, 0, []))
        body = _assemble(sections)
        self._cache = ((version, exporter), body)
        return body

    def _exporter_section(self) -> tuple[tuple[ExporterSample, ...], Chunk]:
        samples = tuple(self.exporter_samples())
        cached = self._exporter_chunk
        if cached is None or cached[0] != samples:
            cached = self._exporter_chunk = (samples, _exporter_chunk(samples))
        return cached


class _Filed:
    """One family's chunks of every target, each in a slot of its own: their deflated bytes in
    slot order (an empty slot is b""), the same joined in blocks of BLOCK_SLOTS slots, and the
    CRC-32 and length of their plain text joined. A scrape joins the blocks: reading 20,000
    small objects scattered over the heap, which a second of idling has pushed out of the CPU's
    caches, took it 0.9-1.8 ms (0.3 ms in blocks); a block is joined again (a few KB) when one
    of its slots changes. A block of one-line chunks is then compressed as one (see
    FastExposition._pack)."""

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


def _assemble(sections: list[Section]) -> _Body:
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
    return _Body(deflated, crc, size)


def _exporter_chunk(samples: tuple[ExporterSample, ...]) -> Chunk:
    text: list[str] = []
    for family, values, value in samples:
        labels = label_text(family.labels, values)
        text.append(family.header() + f"{family.name}{{{labels}}} {format_value(value)}\n"
                    if labels else family.header() + f"{family.name} {format_value(value)}\n")
    return make_chunk("".join(text).encode())
