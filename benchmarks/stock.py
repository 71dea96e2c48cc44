"""The stock prometheus_client path, as a reference: a custom collector that builds fresh
families from the store's states on every scrape. /metrics is served by the faster
`exporter.metrics.render`, which must give the same samples; the tests and bench.py compare
the two."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.samples import Sample

from exporter.service.catalogue import SERVED
from exporter.metrics.family import INVALID_FIELDS, Family, Type
from exporter.metrics.reasons import REASONS
from exporter.metrics.lines import ExporterSample
from exporter.metrics.snapshot import TargetState
from exporter.service.store import Store

Row = tuple[tuple[str, ...], tuple[str, ...], float]  # label names, values, value


class StockCollector:
    def __init__(self, store: Store, exporter_samples: Callable[[], Iterable[ExporterSample]]):
        self.store = store
        self.exporter_samples = exporter_samples

    def describe(self) -> list[Metric]:
        return []  # registration must not trigger a collect()

    def collect(self) -> Iterator[Metric]:
        rows: dict[str, list[Row]] = {family.name: [] for family in SERVED}
        now = self.store.clock()
        for state in sorted(self.store.states(), key=lambda s: s.key):
            if state.attempted:
                self._target_rows(state, now, rows)
        for family, values, value in self.exporter_samples():
            rows[family.name].append((family.labels, values, value))
        for family in SERVED:
            yield _family(family, rows[family.name])

    def _target_rows(self, state: TargetState, now: float, rows: dict[str, list[Row]]) -> None:
        names = ("account", *(n for n, _ in state.value_labels))
        values = (state.key.account, *(v for _, v in state.value_labels))
        fresh = state.fresh_translation(now, self.store.stale_after)
        for sample in fresh.samples if fresh is not None else ():
            rows[sample.family.name].append((names + sample.family.labels,
                                             values + sample.labels, sample.value))
        names = ("account", *(n for n, _ in state.key.labels))
        values = (state.key.account, *(v for _, v in state.key.labels))
        health = state.health
        rows[health.up.name].append((names, values, 1.0 if state.up else 0.0))
        for reason in REASONS:
            rows[health.errors.name].append((names + ("reason",), values + (reason,),
                                             state.errors[reason]))
        if state.failure_reason is not None:
            rows[health.failing.name].append((names + ("reason",),
                                              values + (state.failure_reason,), 1.0))
        invalid = len(state.translation.unreadable) if state.translation is not None else None
        for family, value in ((health.last_success, state.last_success),
                              (health.duration, state.duration),
                              (health.rate_limit_remaining, state.rate_limit_remaining),
                              (health.interval, state.interval), (INVALID_FIELDS, invalid)):
            if value is not None:
                rows[family.name].append((names, values, value))


def _family(family: Family, rows: list[Row]) -> Metric:
    """Samples are added as they are, since one family may carry different label names for
    different kinds of target (bybit_invalid_fields)."""
    if family.type == Type.COUNTER:
        metric: Metric = CounterMetricFamily(family.name.removesuffix("_total"), family.help)
    else:
        metric = GaugeMetricFamily(family.name, family.help)
    for names, values, value in rows:
        metric.samples.append(Sample(family.name, dict(zip(names, values)), value, None, None))
    return metric


def build_registry(store: Store,
                   exporter_samples: Callable[[], Iterable[ExporterSample]] = lambda: ()
                   ) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StockCollector(store, exporter_samples))
    return registry
