"""Wiring: config -> clients and pollers -> scheduler, store -> collector -> web server."""

from __future__ import annotations

import logging
import threading

from prometheus_client import generate_latest

from exporter import http, metrics, scheduling
from exporter.exposition import FastExposition, render_target
from exporter.budget import RequestBudget
from exporter.bybit import BybitClient, ServerClock
from exporter.collection import AccountPoller
from exporter.config import Config
from exporter.store import Store

log = logging.getLogger("exporter.service")


class Exporter:
    def __init__(self, config: Config, budget: RequestBudget | None = None):
        self.config = config
        self.budget = budget or RequestBudget()
        self.store = Store(config.stale_after, render=render_target)
        process = metrics.process_registry()
        self.exposition = FastExposition(self.store, extra=lambda: generate_latest(process))
        self.scheduler = scheduling.PollScheduler(scheduling.worker_count(len(config.accounts)))
        self.clocks: dict[str, ServerClock] = {}
        self.clients: dict[str, BybitClient] = {}
        self.server: http.MetricsServer | None = None

    def render_metrics(self, gzip: bool) -> bytes:
        return self.exposition.render(gzip)

    def listen(self, host: str, port: int) -> tuple[str, int]:
        app = http.WebApp(render_metrics=self.render_metrics, ready=self.store.ready)
        self.server = http.serve(app, host, port)
        threading.Thread(target=self.server.serve_forever, name="http", daemon=True).start()
        return self.server.server_address[:2]

    def start(self) -> None:
        self.store.set_targets((a.name, t) for a in self.config.accounts for t in a.account_types)
        for account in self.config.accounts:
            client = BybitClient(account, self._clock_for(account.endpoint), self.budget,
                                 self.config.timeout)
            self.clients[account.name] = client
            poller = AccountPoller(client, self.store)
            self.scheduler.add(account.name, poller.poll, account.poll_interval)
        self.scheduler.start()
        log.info("polling started", extra={"fields": {"accounts": len(self.config.accounts)}})

    def stop(self) -> None:
        self.budget.close()
        self.scheduler.shutdown()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
        for client in self.clients.values():
            client.close()

    def _clock_for(self, endpoint: str) -> ServerClock:
        if endpoint not in self.clocks:
            self.clocks[endpoint] = ServerClock(endpoint, self.config.timeout, self.budget)
        return self.clocks[endpoint]
