"""Fast /metrics. Each target's lines are rendered (exporter.metrics.lines) and deflated
(exporter.metrics.deflate) once, when its poll lands, one chunk per metric family, and filed in
the polling thread under their family (exporter.metrics.filing); a scrape only joins bytes,
with no loop over targets or chunks in Python, and compresses nothing: the chunks are deflate
streams that concatenate into one."""

from __future__ import annotations

import heapq
import struct
import threading
import zlib
from itertools import chain
from typing import Callable, Iterable, Sequence

from exporter.metrics.deflate import (DEFLATE_FINAL_BLOCK, GZIP_HEADER, Chunk, make_chunk, pack,
                                      stored_block, stored_texts)
from exporter.metrics.family import Family
from exporter.metrics.filing import Body, Filed, assemble
from exporter.metrics.lines import ExporterSample, RenderedTarget, exporter_chunk, render_target
from exporter.metrics.snapshot import StateSource, TargetKey, TargetState


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
        self._filed = {name: Filed() for name in self.order}  # each target's chunk, by family
        self._expiry: dict[TargetKey, float] = {}  # targets whose values are filed: stale after
        self._deadlines: list[tuple[float, TargetKey]] = []  # a heap of _expiry, and older ones
        self._stale_after = store.stale_after
        self._version = 0  # bumped on every change of what is filed
        self._lock = threading.Lock()  # guards the above; never held while rendering
        self._cache: tuple[tuple[object, ...], Body] | None = None
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

    def _pack(self, touched: list[tuple[Filed, int]], only_full: bool) -> None:
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
        packed = [(filed, block, joined, pack(text) if text is not None else None)
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
              state: TargetState, now: float) -> list[tuple[Filed, int]]:
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

    def _unfile(self, key: TargetKey, names: Iterable[str]) -> list[tuple[Filed, int]]:
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

    def _body(self) -> Body:
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
        body = assemble(sections)
        self._cache = ((version, exporter), body)
        return body

    def _exporter_section(self) -> tuple[tuple[ExporterSample, ...], Chunk]:
        samples = tuple(self.exporter_samples())
        cached = self._exporter_chunk
        if cached is None or cached[0] != samples:
            cached = self._exporter_chunk = (samples, exporter_chunk(samples))
        return cached

