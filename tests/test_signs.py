"""The signs of money-flow rows, on bodies Bybit's docs publish and rows captured in public
projects' tests (tests/fixtures/money_flows: each file names its source)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exporter.bybit.endpoints import deposits, transactions
from exporter.bybit.ledger import count_pages

FIXTURES = Path(__file__).parent / "fixtures" / "money_flows"
EMPTY = {"retCode": 0, "result": {"nextPageCursor": "", "rows": []}}


def body(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())["response"]


def counted(sources, payloads) -> dict[tuple[str, tuple[str, ...]], Decimal]:
    translation = count_pages(sources, payloads)
    assert translation.unreadable == ()
    return {(s.family.name, s.labels): Decimal(repr(s.value)) for s in translation.samples}


def test_the_docs_unified_log_settlement_paid_and_two_fills_with_a_shared_id():
    found = counted((transactions.SOURCE,), [body("docs_transaction_log")])
    assert found == {
        ("bybit_funding_paid_total", ("USDT",)): Decimal("0.003676"),  # funding < 0: paid
        ("bybit_trading_fees_paid_total", ("USDT", "linear")): Decimal("0.02169"),  # fee > 0
        ("bybit_transaction_change_out_total", ("USDT", "SETTLEMENT")): Decimal("0.003676"),
        ("bybit_transaction_change_out_total", ("USDT", "TRADE")): Decimal("0.02169"),
        # the SETTLEMENT row and a TRADE row share an id: both are counted
        ("bybit_transactions_total", ("SETTLEMENT",)): Decimal(1),
        ("bybit_transactions_total", ("TRADE",)): Decimal(2),
    }


@pytest.mark.parametrize("name", ["docs_transaction_log"])
def test_unified_rows_keep_change_equal_cash_flow_plus_funding_minus_fee(name):
    """The convention our signs rest on, as the published Unified rows show it."""
    for row in body(name)["result"]["list"]:
        parts = [Decimal(row[k] or "0") for k in ("cashFlow", "funding", "fee", "change")]
        assert parts[0] + parts[1] - parts[2] == parts[3], row["id"]


def test_the_classic_log_has_the_opposite_funding_sign_and_is_not_read():
    """Bybit's classic log: change = cashFlow - funding - fee; reading it with the Unified
    signs would turn funding paid into funding received, which is why only UNIFIED is read."""
    row = body("docs_contract_transaction_log")["result"]["list"][0]
    cash_flow, funding, fee = (Decimal(row[k] or "0") for k in ("cashFlow", "funding", "fee"))
    assert cash_flow - funding - fee == Decimal(row["change"])
    assert cash_flow + funding - fee != Decimal(row["change"])
    assert transactions.QUERY.startswith("accountType=UNIFIED")


@pytest.mark.parametrize("deposit_body, internal_body, withdraw_body, expected", [
    ("docs_deposit_records", "docs_internal_deposit_records", "docs_withdraw_records", {
        ("bybit_deposits_total", ("USDT",)): Decimal("999.0496"),  # status 3
        ("bybit_deposits_total", ("ETH",)): Decimal("0.1"),  # internal, status 2
        ("bybit_withdrawals_total", ("USDC",)): Decimal("41.43008"),
        ("bybit_withdrawals_total", ("USDT",)): Decimal("951"),
        ("bybit_withdrawal_fees_total", ("USDC",)): Decimal("5"),
        ("bybit_withdrawal_fees_total", ("USDT",)): Decimal("1")}),
    ("rotki_deposits", None, "rotki_withdrawals", {  # rows without an id: told apart by txID
        ("bybit_deposits_total", ("USDC",)): Decimal("99.993947"),
        ("bybit_withdrawals_total", ("ETH",)): Decimal("0.0024"),
        ("bybit_withdrawal_fees_total", ("ETH",)): Decimal("0.0001")}),
])
def test_completed_deposits_and_withdrawals(deposit_body, internal_body, withdraw_body,
                                           expected):
    pages = [body(name) if name else EMPTY for name in (deposit_body, internal_body,
                                                          withdraw_body)]
    assert counted(deposits.SOURCES, pages) == expected
