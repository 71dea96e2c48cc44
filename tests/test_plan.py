"""The request budget arithmetic: what a config costs and how slow collectors give way."""

import dataclasses

from exporter.bybit.budget import MAX_REQUESTS, WINDOW_SECONDS
from exporter.config import DEFAULT_COLLECT, Account, Secret
from exporter.service.plan import describe, plan


def accounts(count, interval=30.0, collect=DEFAULT_COLLECT):
    return [Account(name=f"a{i}", api_key=Secret("k"), api_secret=Secret("s"),
                    rsa_private_key=None, account_types=("UNIFIED",), coins=(),
                    endpoint="https://api.bybit.com", recv_window_ms=5000,
                    poll_interval=interval, collect=collect) for i in range(count)]


def test_five_hundred_accounts_every_30s_with_the_default_collectors_fit():
    result = plan(accounts(500))
    per_window = result.wanted_rate * WINDOW_SECONDS
    assert 340 < per_window <= MAX_REQUESTS  # wallet 1 + positions 3 per 30 s, the rest slower
    assert result.stretch == 1.0 and result.fits
    assert result.interval("a0", "wallet") == 30.0 and result.interval("a0", "api_key") == 3600


def test_a_config_that_does_not_fit_stretches_the_slow_collectors_never_the_margin_ones():
    result = plan(accounts(590))  # margin data alone: 590 x 4 requests per 30 s = 78.7/s
    assert result.stretch > 1 and result.fits
    assert result.interval("a0", "wallet") == 30.0 and result.interval("a0", "positions") == 30.0
    assert result.interval("a0", "assets") > 300.0
    assert result.planned_rate <= MAX_REQUESTS / WINDOW_SECONDS + 1e-9
    assert "stretched" in describe(result)


def test_margin_polls_alone_over_the_budget_are_said_not_to_fit():
    result = plan(accounts(2000, interval=10.0, collect=("wallet", "positions")))
    assert not result.fits and "DOES NOT FIT" in describe(result)


def test_every_account_type_costs_a_wallet_request():
    one = plan(accounts(10, collect=("wallet",)))
    two = plan([dataclasses.replace(a, account_types=("UNIFIED", "CONTRACT"))
                for a in accounts(10, collect=("wallet",))])
    assert two.wanted_rate == 2 * one.wanted_rate
