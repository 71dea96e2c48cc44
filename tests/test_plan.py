"""The request budget arithmetic: what a config costs and how slow collectors give way."""

import dataclasses

import pytest

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
    # wallet 1 + positions 1 (the settle coin with margin) + 3 x 30/300 (the others, options
    # among them, every 5 minutes) per 30 s, the rest slower
    assert result.margin_rate * WINDOW_SECONDS == pytest.approx(500 * 2.3 / 30 * 5)
    assert result.worst_margin_rate * WINDOW_SECONDS == pytest.approx(500 * 5 / 30 * 5)
    assert per_window <= MAX_REQUESTS
    assert result.stretch == 1.0 and result.fits
    assert result.interval("a0", "wallet") == 30.0 and result.interval("a0", "api_key") == 3600


def test_a_thousand_accounts_at_30s_fit_one_ip_with_typical_evidence():
    result = plan(accounts(1000))  # margin data: 1000 x 2.3 requests per 30 s = 76.7/s
    assert result.margin_rate * WINDOW_SECONDS == pytest.approx(1000 * 2.3 / 30 * 5)
    assert result.fits and result.stretch > 1  # the slow collectors give way a little
    assert result.interval("a0", "wallet") == 30.0 and result.interval("a0", "positions") == 30.0
    assert result.planned_rate <= MAX_REQUESTS / WINDOW_SECONDS + 1e-9
    text = describe(result)
    assert "383.3 for margin data with typical evidence" in text and "833.3 in the worst" in text
    assert "stretched" in text and "in the worst case margin polls exceed the budget" in text


def test_without_the_wallet_collector_positions_cost_all_four_queries():
    result = plan(accounts(10, collect=("positions",)))
    assert result.margin_rate == result.worst_margin_rate == pytest.approx(10 * 4 / 30)


def test_margin_polls_alone_over_the_budget_are_said_not_to_fit():
    result = plan(accounts(2000, interval=10.0, collect=("wallet", "positions")))
    assert result.margin_rate > MAX_REQUESTS / WINDOW_SECONDS
    assert not result.fits and "DOES NOT FIT" in describe(result)


def test_every_account_type_costs_a_wallet_request():
    one = plan(accounts(10, collect=("wallet",)))
    two = plan([dataclasses.replace(a, account_types=("UNIFIED", "CONTRACT"))
                for a in accounts(10, collect=("wallet",))])
    assert two.wanted_rate == 2 * one.wanted_rate


def test_intervals_asked_for_in_the_config_are_the_ones_planned():
    asked = [dataclasses.replace(account, intervals=(("funding", 900.0), ("transactions", 10.0)))
             for account in accounts(3)]
    result = plan(asked)
    assert result.interval("a0", "funding") == 900.0
    assert result.interval("a0", "transactions") == 30.0  # never below poll_interval
    assert result.interval("a0", "assets") == 300.0  # the collector's own
    change = 3 * ((1 / 900 - 1 / 300) + (1 / 30 - 1 / 60))  # funding slower, the log faster
    assert result.wanted_rate == pytest.approx(plan(accounts(3)).wanted_rate + change)
