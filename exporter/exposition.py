"""Fast /metrics. Each target's lines are rendered and deflated once, when its poll lands, one
chunk per metric family; a scrape only joins bytes.

gzip without compressing at scrape time: every chunk is a raw deflate stream of its own, ended
with a sync flush (byte-aligned, not final, no back-references outside itself), so chunks can
be concatenated in any order into one valid deflate stream. The scrape adds the gzip header, an
empty final block and the CRC-32 of the plain bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable

from prometheus_client.utils import floatToGoString

from exporter import __version__
from exporter.bybit.client import REASONS
from exporter.store import Store, TargetState
from exporter.translate import ACCOUNT_FIELDS, COIN_FIELDS, COIN_FLAGS

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no name, no mtime
DEFLATE_FINAL_BLOCK = b"\x03\x00"  # an empty fixed-Huffman block with BFINAL set
COMPRESS_LEVEL = 6
# Chunks are a few KB: a 4 KB window and small memory level compress them as well as the
# defaults, and allocating the compressor is 5x cheaper.
WINDOW_BITS, MEMORY_LEVEL = 12, 4
STORE_BELOW = 256  # bytes; one or two lines gain little from compression

HEALTH_FAMILIES = (
    ("bybit_up", "gauge", "1 if the last poll of this account type succeeded."),
    ("bybit_last_success_timestamp_seconds", "gauge", "Unix time of the last successful poll."),
    ("bybit_poll_duration_seconds", "gauge", "Duration of the last poll, in seconds."),
    ("bybit_poll_errors_total", "counter", "Failed polls, by reason."),
    ("bybit_poll_failing", "gauge",
     "1 while the last poll failed, labelled with the reason; absent after a success."),
    ("bybit_rate_limit_remaining", "gauge",
     "Requests left in Bybit's per-UID rate limit window (X-Bapi-Limit-Status)."),
    ("bybit_poll_interval_seconds", "gauge", "Configured poll interval, in seconds."),
)
EXPORTER_FAMILIES = (
    ("bybit_exporter_build_info", "Version of the exporter; always 1."),
    ("bybit_config_last_reload_successful", "1 if the last config reload succeeded."),
    ("bybit_config_last_reload_success_timestamp_seconds",
     "Unix time of the last successful config load."),
)
ACCOUNT_FAMILIES = tuple((metric, help_text) for _, metric, help_text in ACCOUNT_FIELDS)
COIN_FAMILIES = tuple((metric, help_text) for _, metric, help_text in COIN_FIELDS + COIN_FLAGS)


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


def _header(name: str, kind: str, help_text: str) -> Chunk:
    escaped = help_text.replace("\\", r"\\").replace("\n", r"\n")
    return make_chunk(f"# HELP {name} {escaped}\n# TYPE {name} {kind}\n".encode())


HEADERS = {name: _header(name, "gauge", h) for name, h in ACCOUNT_FAMILIES + COIN_FAMILIES}
HEADERS.update({name: _header(name, kind, h) for name, kind, h in HEALTH_FAMILIES})
VALUE_ORDER = tuple(name for name, _ in ACCOUNT_FAMILIES + COIN_FAMILIES)
HEALTH_ORDER = tuple(name for name, _, _ in HEALTH_FAMILIES)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _format(value: float) -> str:
    """floatToGoString for the finite values the translator lets through, without its
    overhead on the common path; the same text either way."""
    text = repr(float(value))
    return floatToGoString(value) if value > 0 and text.find(".") > 6 else text


def _line(name: str, labels: str, value: float) -> str:
    return f"{name}{{{labels}}} {_format(value)}\n"


@dataclass(frozen=True)
class RenderedTarget:
    values: dict[str, Chunk]  # family -> this target's lines, only while it has a snapshot
    health: dict[str, Chunk]


def render_target(state: TargetState, previous: TargetState | None = None) -> RenderedTarget:
    """Pure: the exposition lines of one (account, account_type), grouped by family. What did
    not change since `previous` is reused rather than compressed again: all the values of an
    idle account, and the families whose text is the same (most of them, most of the time)."""
    labels = f'account="{_escape(state.account)}",account_type="{_escape(state.account_type)}"'
    before = previous.rendered if previous is not None else None
    if before is not None and previous.snapshot == state.snapshot:
        values = before.values
    else:
        values = _chunks(_value_lines(state, labels), before.values if before else {})
    return RenderedTarget(values, _chunks(_health_lines(state, labels),
                                          before.health if before else {}))


def _value_lines(state: TargetState, labels: str) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    if state.snapshot is not None:
        for metric, value in state.snapshot.totals.items():
            lines.setdefault(metric, []).append(_line(metric, labels, value))
        for coin in sorted(state.snapshot.coins):
            coin_labels = f'{labels},coin="{_escape(coin)}"'
            for metric, value in state.snapshot.coins[coin].items():
                lines.setdefault(metric, []).append(_line(metric, coin_labels, value))
    return lines


def _health_lines(state: TargetState, labels: str) -> dict[str, list[str]]:
    lines = {"bybit_up": [_line("bybit_up", labels, 1.0 if state.up else 0.0)],
             "bybit_poll_errors_total": [
                 _line("bybit_poll_errors_total", f'{labels},reason="{reason}"',
                       state.errors[reason]) for reason in REASONS]}
    if state.failure_reason is not None:
        lines["bybit_poll_failing"] = [_line("bybit_poll_failing",
                                             f'{labels},reason="{state.failure_reason}"', 1.0)]
    optional = (("bybit_last_success_timestamp_seconds", state.last_success),
                ("bybit_poll_duration_seconds", state.poll_duration),
                ("bybit_rate_limit_remaining", state.rate_limit_remaining),
                ("bybit_poll_interval_seconds", state.poll_interval))
    for name, value in optional:
        if value is not None:
            lines[name] = [_line(name, labels, value)]
    return lines


@dataclass(frozen=True)
class _Body:
    plain: bytes
    deflated: bytes
    crc: int


class FastExposition:
    """Joins the pre-rendered chunks of the current states; caches the result until a state
    changes or a snapshot goes stale. Safe to call from many threads at once: no lock."""

    def __init__(self, store: Store, extra: Callable[[], bytes] = lambda: b"",
                 version: str = __version__):
        self.store = store
        self.extra = extra  # e.g. process metrics: small, rendered on every scrape
        self.version = version
        self._cache: tuple[tuple, _Body] | None = None

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
        states = sorted(self.store.states(), key=lambda s: (s.account, s.account_type))
        now = self.store.clock()
        fresh = tuple(s.fresh_snapshot(now, self.store.stale_after) is not None for s in states)
        key = (version, id(self.store), fresh)
        cached = self._cache
        if cached is not None and cached[0] == key:
            return cached[1]
        rendered = [s.rendered for s in states if s.rendered is not None]
        fresh_rendered = [s.rendered for s, ok in zip(states, fresh) if ok and s.rendered]
        chunks = list(self._families(VALUE_ORDER, (r.values for r in fresh_rendered)))
        chunks += self._families(HEALTH_ORDER, (r.health for r in rendered))
        chunks.append(self._exporter_chunk())
        body = _assemble(chunks)
        self._cache = (key, body)
        return body

    def _exporter_chunk(self) -> Chunk:
        values = [(f'{{version="{_escape(self.version)}"}}', 1.0),
                  ("", 1.0 if self.store.reload_ok else 0.0),
                  ("", self.store.reload_success_time)]
        text = ""
        for (name, help_text), (labels, value) in zip(EXPORTER_FAMILIES, values):
            if value is not None:
                text += f"# HELP {name} {help_text}\n# TYPE {name} gauge\n" \
                        f"{name}{labels} {_format(value)}\n"
        return make_chunk(text.encode())

    @staticmethod
    def _families(order: tuple[str, ...], per_target: Iterable[dict[str, Chunk]]) -> list[Chunk]:
        per_target = list(per_target)
        chunks = []
        for name in order:
            members = [target[name] for target in per_target if name in target]
            if members:
                chunks.append(HEADERS[name])
                chunks.extend(members)
        return chunks


def _assemble(chunks: list[Chunk]) -> _Body:
    plain = b"".join([c.plain for c in chunks])
    deflated = b"".join([c.deflated for c in chunks])
    return _Body(plain, deflated, zlib.crc32(plain))  # one call: far faster than one per chunk
