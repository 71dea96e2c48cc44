"""Wiring: config -> one AccountRunner per account of this shard -> scheduler; store ->
exposition. A reload diffs the accounts, stops the old runners and starts the new ones."""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from exporter.build import build_info
from exporter.bybit.budget import RequestBudget
from exporter.config import Config, ConfigError
from exporter.service.catalogue import SERVED
from exporter.metrics.family import (BUILD_INFO, RELOAD_OK, RELOAD_TIME, SHARD_INFO,
                                     WEB_CONFIG_RELOAD_OK)
from exporter.metrics.process import ProcessMetrics
from exporter.metrics.lines import ExporterSample
from exporter.metrics.render import FastExposition
from exporter.service import scheduling
from exporter.service.account import PHASES, AccountRunner, Hosts, Shared
from exporter.service.ledger_state import LedgerFiles
from exporter.service.plan import plan
from exporter.bybit.instruments import ExpiryBook
from exporter.bybit.prices import PriceBook
from exporter.service.sharding import Shard
from exporter.service.store import Store, TargetKey, TargetSpec

log = logging.getLogger("exporter.service")
SLOW_SHARE = 5  # when margin data does not fit the budget, the slow collectors keep 1/5 of it
FREEZE_AGAIN_AFTER = 3  # poll intervals after start or reload, at the latest
FREEZE_CHECK_SECONDS = 2.0  # how often to look whether every target's first poll has run


def _freeze(collect: int | None) -> None:
    """gc.freeze(), after collecting generations up to `collect` (None: none)."""
    if collect is not None:
        gc.collect(collect)
    gc.freeze()


def process_metrics() -> Callable[[], bytes]:
    """process_* series (memory, CPU, open files), rendered on every scrape: they are few."""
    return ProcessMetrics().render


class Exporter:
    def __init__(self, config: Config, load_config: Callable[[], Config] | None = None,
                 shard: Shard = Shard(), budget: RequestBudget | None = None,
                 storage: Path | None = None):
        self.config = config
        self.load_config = load_config or (lambda: config)
        self.shard = shard
        self.ledgers = LedgerFiles(storage)
        self.budget = budget or RequestBudget()
        self.prices = PriceBook(self.budget, config.timeout)
        self.instruments = ExpiryBook(self.budget, config.timeout)
        self.store = Store(config.stale_after)
        self.exposition = FastExposition(self.store, SERVED, self._exporter_samples,
                                         extra=process_metrics())
        self.scheduler = scheduling.PollScheduler(scheduling.MAX_WORKERS)
        self.hosts = Hosts()
        self.runners: dict[str, AccountRunner] = {}
        self.reload_ok = True
        self.reload_success_time: float | None = None
        self._started = False
        self._reload_lock = threading.Lock()

    def render_metrics(self, gzip: bool) -> bytes:
        return self.exposition.render(gzip)

    def ready(self) -> bool:
        """Every target of this shard's accounts has finished its first poll attempt (none is
        known before start: not ready then)."""
        return self._started and self.store.ready()

    def start(self) -> None:
        # Started first: the first runners' polls may go out while the later runners are made
        # (the two share the interpreter lock: at 120 accounts the first request left no sooner).
        self.scheduler.start()
        self._apply(self.config)
        self.reload_success_time = time.time()
        self._started = True
        self._freeze_long_lived_objects(collect=None)
        log.info("polling started", extra={"fields": {
            "accounts": len(self.runners), "shard": self.shard.index,
            "total_shards": self.shard.total}})

    def reload(self) -> tuple[bool, list[str]]:
        """Load the config again and apply it; an invalid one is refused and the old one kept."""
        with self._reload_lock:
            try:
                config = self.load_config()
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("config reload refused", extra={"fields": {"problem": problem}})
                self.reload_ok = False
                return False, exc.problems
            gc.unfreeze()  # what the old config made may be garbage now
            changes = self._apply(config)
            self._freeze_long_lived_objects(collect=2)
            self.reload_ok, self.reload_success_time = True, time.time()
            log.info("config reloaded", extra={"fields": changes})
            return True, []

    def stop(self) -> None:
        self.budget.close()
        self.scheduler.shutdown()
        for runner in self.runners.values():
            runner.client.close()

    def _apply(self, config: Config) -> dict[str, int]:
        """Runners for exactly this shard's accounts of `config`. An account whose config,
        intervals in force and timeout did not change keeps running undisturbed, with its values
        and back-off; every other is stopped (its jobs removed, its session closed) and, if still
        wanted, started anew."""
        accounts = self.shard.select(config.accounts)
        planned = plan(accounts, self.budget.limit / self.budget.window)
        intervals = planned.intervals
        self._share_budget(planned.margin_rate)
        self.prices.timeout = self.instruments.timeout = config.timeout
        shared = Shared(self.budget, self.store, self.scheduler, self.hosts, self.prices.for_host,
                        config.timeout, self.ledgers, self.instruments.expiries)
        wanted = {a.name: (a, {c: intervals[(a.name, c)] for c in a.collect}) for a in accounts}
        removed = [name for name in self.runners if name not in wanted]
        changed = [name for name, (account, own) in wanted.items() if name in self.runners
                   and not self.runners[name].same_as(account, own, config.timeout)]
        added = [name for name in wanted if name not in self.runners]
        for name in removed + changed:
            self.runners.pop(name).stop()
        self.ledgers.keep_only(wanted)
        for name in changed + added:
            self.runners[name] = AccountRunner(*wanted[name], shared)
        self.config = config
        self.store.stale_after = config.stale_after
        self.store.set_targets(self._targets())
        for phase in PHASES:
            for name in changed + added:
                self.runners[name].start(phase)
        return {"added": len(added), "removed": len(removed), "changed": len(changed)}

    def _freeze_long_lived_objects(self, collect: int | None) -> None:
        """The collector's full passes hold the interpreter lock for as long as they take, and
        a scrape waits for them: over the ~100,000 objects that live as long as the config
        (modules, runners, jobs, sessions), a pass took 60 ms every 30 s at 200 accounts. Those
        are moved out of its sight (gc.freeze) now and again once every target's first poll
        has run (its jobs and sessions made), or FREEZE_AGAIN_AFTER intervals on at the latest:
        freezing 3 intervals after start left 12-29 ms passes for a minute after readiness, at
        200 accounts x every collector. A reload unfreezes them first: what the old config made
        is then collected. The second time, only the young objects are collected first: a full
        pass then would be the pause this avoids, and what it might have found (cycles that were
        made and died within a few intervals) is kept until the next reload, once. On start,
        nothing is collected first: the imports leave a few dozen objects of garbage, and a full
        pass over everything would hold the first polls back: 10 ms at 120 accounts, 85 ms at
        1,000 (default collectors)."""
        _freeze(collect)
        self._freeze_again_once_polled(time.monotonic() + FREEZE_AGAIN_AFTER
                                       * self.config.poll_interval)

    def _freeze_again_once_polled(self, latest: float) -> None:
        if self.store.ready() or time.monotonic() >= latest:
            _freeze(collect=1)
            return
        self.scheduler.once("freeze-long-lived-objects",
                            lambda: self._freeze_again_once_polled(latest), FREEZE_CHECK_SECONDS)

    def _share_budget(self, margin_rate: float) -> None:
        """What margin data needs is kept from the slow collectors, which wait while margin
        data waits; when margin data alone needs more than the budget, the slow collectors
        keep a fifth of it, so that they are still polled (and readiness still comes)."""
        limit, need = self.budget.limit, math.ceil(margin_rate * self.budget.window)
        fits = need <= limit
        self.budget.floor = 0 if fits else limit // SLOW_SHARE
        self.budget.reserve = need if fits else limit - self.budget.floor

    def _targets(self) -> dict[TargetKey, TargetSpec]:
        targets: dict[TargetKey, TargetSpec] = {}
        for runner in self.runners.values():
            targets.update(runner.targets())
        return targets

    def _exporter_samples(self) -> Iterator[ExporterSample]:
        info = build_info()
        yield BUILD_INFO, (info.version, info.revision, info.branch, info.pythonversion), 1.0
        yield SHARD_INFO, (str(self.shard.index), str(self.shard.total)), 1.0
        yield RELOAD_OK, (), 1.0 if self.reload_ok else 0.0
        if self.reload_success_time is not None:
            yield RELOAD_TIME, (), self.reload_success_time
        web_ok = self.web_config_ok is None or self.web_config_ok()
        yield WEB_CONFIG_RELOAD_OK, (), 1.0 if web_ok else 0.0

    # Set by the CLI when --web.config.file is watched: is the file as it now is in force?
    web_config_ok: Callable[[], bool] | None = None
