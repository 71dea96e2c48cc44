"""The stock prometheus_client path: a custom collector that builds fresh families from the
store's states on every scrape. /metrics is served by the faster `exposition` module, which
must give the same samples; this collector is the reference it is tested and benchmarked
against."""

from __future__ import annotations

from typing import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from exporter import __version__
from exporter.bybit.client import REASONS
from exporter.exposition import EXPORTER_FAMILIES, HEALTH_FAMILIES
from exporter.store import Store, TargetState
from exporter.translate import ACCOUNT_FIELDS, COIN_FIELDS, COIN_FLAGS

TARGET_LABELS = ["account", "account_type"]
# one wording for both paths: the served exposition's tables
HELP = {name: text for name, _, text in HEALTH_FAMILIES} | dict(EXPORTER_FAMILIES)
COIN_LABELS = ["account", "account_type", "coin"]


class BybitCollector:
    def __init__(self, store: Store, version: str = __version__):
        self.store = store
        self.version = version

    def describe(self) -> list[Metric]:
        return []  # registration must not trigger a collect()

    def collect(self) -> Iterator[Metric]:
        states = sorted(self.store.states(), key=lambda s: (s.account, s.account_type))
        now = self.store.clock()
        fresh = [(s, s.fresh_snapshot(now, self.store.stale_after)) for s in states]
        fresh = [(s, snap) for s, snap in fresh if snap is not None]
        yield from self._account_families(fresh)
        yield from self._coin_families(fresh)
        yield from self._health_families(states)

    def _account_families(self, fresh) -> Iterator[Metric]:
        for _, metric, help_text in ACCOUNT_FIELDS:
            family = GaugeMetricFamily(metric, help_text, labels=TARGET_LABELS)
            for state, snapshot in fresh:
                value = snapshot.totals.get(metric)
                if value is not None:
                    family.add_metric([state.account, state.account_type], value)
            yield family

    def _coin_families(self, fresh) -> Iterator[Metric]:
        for _, metric, help_text in COIN_FIELDS + COIN_FLAGS:
            family = GaugeMetricFamily(metric, help_text, labels=COIN_LABELS)
            for state, snapshot in fresh:
                for coin in sorted(snapshot.coins):
                    value = snapshot.coins[coin].get(metric)
                    if value is not None:
                        family.add_metric([state.account, state.account_type, coin], value)
            yield family

    def _health_families(self, states: list[TargetState]) -> Iterator[Metric]:
        def gauge(name: str, labels: list[str] | None = None, **kwargs) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, HELP[name], labels=labels, **kwargs)

        up, last, duration = (gauge(name, TARGET_LABELS) for name in (
            "bybit_up", "bybit_last_success_timestamp_seconds", "bybit_poll_duration_seconds"))
        remaining, interval = (gauge(name, TARGET_LABELS) for name in (
            "bybit_rate_limit_remaining", "bybit_poll_interval_seconds"))
        failing = gauge("bybit_poll_failing", TARGET_LABELS + ["reason"])
        errors = CounterMetricFamily("bybit_poll_errors", HELP["bybit_poll_errors_total"],
                                     labels=TARGET_LABELS + ["reason"])
        for state in states:
            labels = [state.account, state.account_type]
            up.add_metric(labels, 1.0 if state.up else 0.0)
            if state.last_success is not None:
                last.add_metric(labels, state.last_success)
            if state.poll_duration is not None:
                duration.add_metric(labels, state.poll_duration)
            for reason in REASONS:
                errors.add_metric(labels + [reason], state.errors[reason])
            if state.rate_limit_remaining is not None:
                remaining.add_metric(labels, state.rate_limit_remaining)
            if state.poll_interval is not None:
                interval.add_metric(labels, state.poll_interval)
            if state.failure_reason is not None:
                failing.add_metric(labels + [state.failure_reason], 1.0)
        info = gauge("bybit_exporter_build_info", ["version"])
        info.add_metric([self.version], 1.0)
        reload_ok = gauge("bybit_config_last_reload_successful",
                          value=1.0 if self.store.reload_ok else 0.0)
        yield from (up, last, duration, errors, failing, remaining, interval, info, reload_ok)
        if self.store.reload_success_time is not None:
            yield gauge("bybit_config_last_reload_success_timestamp_seconds",
                        value=self.store.reload_success_time)


def build_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(BybitCollector(store))
    return registry


def process_registry() -> CollectorRegistry:
    """process_* series: memory, CPU, open files."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry
