"""The exposition lines of one target, as chunks by family, rendered when its poll lands: its
values (from its last good answer) and its health series; and the exporter-wide series."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

from prometheus_client import utils as prometheus_utils

from exporter.metrics.deflate import Chunk, chunk_text, make_chunk
from exporter.metrics.family import INVALID_FIELDS, Family
from exporter.metrics.reasons import REASONS
from exporter.metrics.snapshot import TargetState

_float_to_go: Callable[[float], str] = prometheus_utils.floatToGoString  # untyped upstream
# (family, label values in the family's order, value): exporter-wide series
ExporterSample = tuple[Family, tuple[str, ...], float]


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


def exporter_chunk(samples: tuple[ExporterSample, ...]) -> Chunk:
    text: list[str] = []
    for family, values, value in samples:
        labels = label_text(family.labels, values)
        text.append(family.header() + f"{family.name}{{{labels}}} {format_value(value)}\n"
                    if labels else family.header() + f"{family.name} {format_value(value)}\n")
    return make_chunk("".join(text).encode())
