"""--demo: start the built-in simulated Bybit on loopback and a config that polls it."""

from __future__ import annotations

import logging

from exporter.config import Account, Config, Secret

DEMO_POLL_INTERVAL = 5.0
DEMO_HISTORY_SECONDS = 86400.0  # money-flow counters start from the demo's last day of rows
log = logging.getLogger("exporter")


def demo_config() -> Config:
    from exporter import simulator

    sim_accounts, demo = simulator.demo_accounts()
    sim = simulator.BybitSimulator(sim_accounts).start()
    accounts = tuple(
        Account(name=d.name, api_key=Secret(d.api_key), api_secret=Secret(d.secret),
                rsa_private_key=None, account_types=d.account_types, coins=(),
                endpoint=sim.url, recv_window_ms=5000, poll_interval=DEMO_POLL_INTERVAL,
                collect=d.collect, transactions_since=DEMO_HISTORY_SECONDS)
        for d in demo)
    log.info("demo mode: polling the built-in simulated Bybit",
             extra={"fields": {"simulator": sim.url}})
    return Config(accounts=accounts, poll_interval=DEMO_POLL_INTERVAL, timeout=5.0,
                  stale_after=60.0)
