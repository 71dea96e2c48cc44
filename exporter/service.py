"""Wiring: config -> clients and pollers -> scheduler; store -> exposition -> web server.
Also applies a reloaded config to the running exporter."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from prometheus_client import generate_latest

from exporter import http, metrics, scheduling
from exporter.bybit.budget import RequestBudget
from exporter.bybit.client import BybitClient, ServerClock
from exporter.collection import AccountPoller
from exporter.config import Account, Config, ConfigError
from exporter.exposition import FastExposition, render_target
from exporter.store import Store
from exporter.webconfig import WebConfig

log = logging.getLogger("exporter.service")


class Exporter:
    def __init__(self, config: Config, load_config: Callable[[], Config] | None = None,
                 budget: RequestBudget | None = None):
        self.config = config
        self.load_config = load_config or (lambda: config)
        self.budget = budget or RequestBudget()
        self.store = Store(config.stale_after, render=render_target)
        process = metrics.process_registry()
        self.exposition = FastExposition(self.store, extra=lambda: generate_latest(process))
        self.scheduler = scheduling.PollScheduler(scheduling.MAX_WORKERS)
        self.clocks: dict[str, ServerClock] = {}
        self.running: dict[str, Account] = {}
        self.server: http.MetricsServer | None = None
        self._reload_lock = threading.Lock()

    def render_metrics(self, gzip: bool) -> bytes:
        return self.exposition.render(gzip)

    def listen(self, host: str, port: int, web: WebConfig | None = None) -> tuple[str, int]:
        app = http.WebApp(render_metrics=self.render_metrics, ready=self.store.ready,
                          reload=self.reload)
        self.server = http.serve(app, host, port, web or WebConfig())
        threading.Thread(target=self.server.serve_forever, name="http", daemon=True).start()
        return self.server.server_address[:2]

    def start(self) -> None:
        self._apply(self.config)
        self.store.set_reload_result(True, time.time())
        self.scheduler.start()
        log.info("polling started", extra={"fields": {"accounts": len(self.config.accounts)}})

    def reload(self) -> tuple[bool, list[str]]:
        """Load the config again and apply it; an invalid one is refused and the old one kept."""
        with self._reload_lock:
            try:
                config = self.load_config()
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("config reload refused", extra={"fields": {"problem": problem}})
                self.store.set_reload_result(False, None)
                return False, exc.problems
            changes = self._apply(config)
            self.store.set_reload_result(True, time.time())
            log.info("config reloaded", extra={"fields": changes})
            return True, []

    def stop(self) -> None:
        self.budget.close()
        self.scheduler.shutdown()
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def _apply(self, config: Config) -> dict[str, int]:
        """Start, stop or restart account jobs so that exactly `config` runs. Accounts that did
        not change keep polling undisturbed, with their values and back-off."""
        wanted = {account.name: account for account in config.accounts}
        timeout_changed = config.timeout != self.config.timeout
        removed = [name for name in self.running if name not in wanted]
        changed = [name for name, account in wanted.items()
                   if name in self.running and (account != self.running[name] or timeout_changed)]
        added = [name for name in wanted if name not in self.running]
        self.config = config
        self.store.stale_after = config.stale_after
        self.store.set_targets({(a.name, t): a.poll_interval
                                for a in config.accounts for t in a.account_types})
        for name in removed + changed:
            self.scheduler.remove(name)
            del self.running[name]
        for name in changed + added:
            self._start_account(wanted[name])
        return {"added": len(added), "removed": len(removed), "changed": len(changed)}

    def _start_account(self, account: Account) -> None:
        client = BybitClient(account, self._clock_for(account.endpoint), self.budget,
                             self.config.timeout)
        self.scheduler.add(account.name, AccountPoller(client, self.store).poll,
                           account.poll_interval)
        self.running[account.name] = account

    def _clock_for(self, endpoint: str) -> ServerClock:
        if endpoint not in self.clocks:
            self.clocks[endpoint] = ServerClock(endpoint, self.config.timeout, self.budget)
        return self.clocks[endpoint]
