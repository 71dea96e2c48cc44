"""Fast /metrics. Each target's lines are rendered and deflated once, when its poll lands, one
chunk per metric family; a scrape only joins bytes.

gzip without compressing at scrape time: every chunk is a raw deflate stream of its own, ended
with a sync flush (byte-aligned, not final, no back-references outside itself), so chunks can
be concatenated in any order into one valid deflate stream. The scrape adds the gzip header, an
empty final block and the CRC-32 of the plain bytes.
"""

from __future__ import annotations

import struct
import threading
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from prometheus_client import utils as prometheus_utils

from exporter.bybit.errors import REASONS
from exporter.metrics.family import INVALID_FIELDS, Family
from exporter.service.store import Store, TargetKey, TargetState

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime
DEFLATE_FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set
COMPRESS_LEVEL = 6
# Chunks are a few KB: a 4 KB window and small memory level compress them as well as the
# defaults, and allocating the compressor is 5x cheaper.
WINDOW_BITS, MEMORY_LEVEL = 12, 4
STORE_BELOW = 256  # bytes; one or two lines gain little from compression

_float_to_go: Callable[[float], str] = prometheus_utils.floatToGoString  # untyped upstream
# (family, label values in the family's order, value): exporter-wide series
ExporterSample = tuple[Family, tuple[str, ...], float]


@dataclass(frozen=True)
class Chunk:
    plain: bytes
    deflated: bytes


def make_chunk(plain: bytes) -> Chunk:
    if len(plain) < STORE_BELOW:  # not worth a compressor: a stored (uncompressed) block
        return Chunk(plain, b"\x00" + struct.pack("<HH", len(plain), len(plain) ^ 0xFFFF) + plain)
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -WINDOW_BITS, MEMORY_LEVEL)
    return Chunk(plain, compressor.compress(plain) + compressor.flush(zlib.Z_SYNC_FLUSH))


def _chunks(lines: dict[str, list[str]], previous: dict[str, Chunk]) -> dict[str, Chunk]:
    """One chunk per family; a family whose text did not change keeps its compressed chunk."""
    chunks = {}
    for name, group in lines.items():
        plain = "".join(group).encode()
        old = previous.get(name)
        chunks[name] = old if old is not None and old.plain == plain else make_chunk(plain)
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


@dataclass(frozen=True)
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
        for family, values, value in state.translation.samples:
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
    plain: bytes
    deflated: bytes
    crc: int


class FastExposition:
    """Renders each target when its state changes (in the polling thread, as a Store
    listener) and joins the chunks of the current states on a scrape; the joined body is
    cached until a state changes or a target's values go stale. Scrapes take no lock."""

    def __init__(self, store: Store, families: Sequence[Family],
                 exporter_samples: Callable[[], Iterable[ExporterSample]] = lambda: (),
                 extra: Callable[[], bytes] = lambda: b""):
        self.store = store
        self.order = tuple(family.name for family in families)
        self.headers = {family.name: make_chunk(family.header().encode()) for family in families}
        self.exporter_samples = exporter_samples
        self.extra = extra  # e.g. process metrics: small, rendered on every scrape
        self._rendered: dict[TargetKey, tuple[TargetState, RenderedTarget]] = {}
        self._lock = threading.Lock()  # between polls writing _rendered, never held by scrapes
        self._cache: tuple[tuple[object, ...], _Body] | None = None
        store.listen(self._on_change)

    def _on_change(self, state: TargetState, previous_state: TargetState | None) -> None:
        old = self._rendered.get(state.key)
        previous = old[1] if old is not None and old[0] is previous_state else None
        rendered = render_target(state, previous, previous_state)
        with self._lock:
            self._rendered[state.key] = (state, rendered)

    def rendered(self, key: TargetKey) -> RenderedTarget | None:
        found = self._rendered.get(key)
        return found[1] if found is not None else None

    def render(self, gzip: bool) -> bytes:
        body = self._body()
        extra = self.extra()
        if not gzip:
            return body.plain + extra
        tail = make_chunk(extra).deflated if extra else b""
        crc = zlib.crc32(extra, body.crc)
        size = (len(body.plain) + len(extra)) & 0xFFFFFFFF
        return b"".join((GZIP_HEADER, body.deflated, tail, DEFLATE_FINAL_BLOCK,
                         struct.pack("<II", crc, size)))

    def _body(self) -> _Body:
        version = self.store.version
        # Before its first poll attempt has ended, a target is not served at all.
        states = sorted((s for s in self.store.states() if s.attempted), key=lambda s: s.key)
        now = self.store.clock()
        fresh = tuple(s.fresh_translation(now, self.store.stale_after) is not None
                      for s in states)
        exporter = tuple(self.exporter_samples())
        key = (version, fresh, exporter)
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        rendered = [self._rendered_of(s) for s in states]
        fresh_rendered = [r for r, ok in zip(rendered, fresh) if ok]
        chunks = self._families((r.values for r in fresh_rendered))
        chunks += self._families((r.health for r in rendered))
        chunks.append(self._exporter_chunk(exporter))
        body = _assemble(chunks)
        self._cache = (key, body)
        self._forget_removed()
        return body

    def _rendered_of(self, state: TargetState) -> RenderedTarget:
        found = self._rendered.get(state.key)
        if found is not None and found[0] is state:
            return found[1]
        return render_target(state)  # a state changed by a reload, not yet heard of

    def _forget_removed(self) -> None:
        """Drop what was rendered for targets a reload removed."""
        current = {state.key for state in self.store.states()}
        if len(self._rendered) > len(current):
            with self._lock:
                for key in [k for k in self._rendered if k not in current]:
                    del self._rendered[key]

    def _exporter_chunk(self, samples: tuple[ExporterSample, ...]) -> Chunk:
        text: list[str] = []
        for family, values, value in samples:
            labels = label_text(family.labels, values)
            text.append(family.header() + f"{family.name}{{{labels}}} {format_value(value)}\n"
                        if labels else family.header() + f"{family.name} {format_value(value)}\n")
        return make_chunk("".join(text).encode())

    def _families(self, per_target: Iterable[dict[str, Chunk]]) -> list[Chunk]:
        targets = list(per_target)
        chunks = []
        for name in self.order:
            members = [target[name] for target in targets if name in target]
            if members:
                chunks.append(self.headers[name])
                chunks.extend(members)
        return chunks


def _assemble(chunks: list[Chunk]) -> _Body:
    plain = b"".join([c.plain for c in chunks])
    deflated = b"".join([c.deflated for c in chunks])
    return _Body(plain, deflated, zlib.crc32(plain))  # one call: far faster than one per chunk
