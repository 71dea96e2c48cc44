"""Money-flow collectors against the HTTP simulator, signatures checked as Bybit does: the
transaction log paged through URL-encoded cursors, deposits counted when they complete,
withdrawals of both kinds with their fees, and a sub-account key refused withdrawals."""

from __future__ import annotations

import time
from decimal import Decimal

from exporter.bybit.endpoints import deposits, transactions
from exporter.metrics.reasons import Reason
from exporter.service.ledger_poller import LedgerPoller
from exporter.service.ledger_state import LedgerFile
from exporter.service.store import Store, TargetKey, TargetSpec
from exporter.simulator.transfers import Deposit, InternalDeposit, Withdrawal
from tests.conftest import unified_account
from tests.test_client import make_client

DAY = 86400.0


def ledger_poller(sim, account, endpoint, tmp_path, since=DAY):
    client = make_client(sim.url, key=account.api_key, secret=account.secret)
    store = Store(stale_after=3600)
    key = TargetKey("a", endpoint.collector, (("collector", endpoint.collector),))
    store.set_targets({key: TargetSpec(endpoint.health, 60.0)})
    poller = LedgerPoller(endpoint, client, store, 60.0, LedgerFile(tmp_path, "a"), since)
    return poller, lambda: next(s for s in store.states() if s.key == key)


def totals(state) -> dict[tuple[str, tuple[str, ...]], float]:
    assert state.up, (state.failure_reason, state.failure_message)
    return {(s.family.name, s.labels): s.value for s in state.translation.samples}


def test_the_log_is_read_through_every_page_and_each_row_counted_once(simulator, tmp_path):
    account = unified_account("LOGKEY0001", "LOGSECRET01")
    sim = simulator([account])
    now = sim.now_ms()
    for index in range(120):  # three pages of 50: cursors come back URL-encoded
        account.ledger.trade(now - 3_600_000 + index * 1000, "BTCUSDT", "Buy", "0.01", "60000",
                             fee_rate="0.001", cash_flow="2.5" if index % 2 else "-1")
    account.ledger.funding(now - 1000, "BTCUSDT", "Buy", "1", "60000", "0.0001")  # paid 6
    account.ledger.funding(now - 900, "ETHUSDT", "Sell", "10", "3000", "0.0001")  # received 3
    account.ledger.interest(now - 800, "USDT", "0.25")
    account.ledger.transfer_in(now - 700, "USDT", "500")
    account.ledger.transfer_out(now - 600, "USDT", "20")
    poller, state = ledger_poller(sim, account, transactions.ENDPOINT, tmp_path)
    poller.poll()
    poller.poll()  # again: the overlap is read again, nothing is counted twice
    found = totals(state())
    assert found[("bybit_transactions_total", ("TRADE",))] == 120
    assert found[("bybit_trading_fees_paid_total", ("USDT", "linear"))] == 120 * 0.6
    assert found[("bybit_realised_profit_total", ("USDT", "linear"))] == 60 * 2.5
    assert found[("bybit_realised_loss_total", ("USDT", "linear"))] == 60
    assert found[("bybit_funding_paid_total", ("USDT",))] == 6
    assert found[("bybit_funding_received_total", ("USDT",))] == 3
    assert found[("bybit_interest_paid_total", ("USDT",))] == 0.25
    assert found[("bybit_transfers_in_total", ("USDT",))] == 500
    assert found[("bybit_transfers_out_total", ("USDT",))] == 20
    assert found[("bybit_transaction_change_in_total", ("USDT", "TRANSFER_IN"))] == 500
    pages = [q for path, q in account.calls if path == transactions.SOURCE.path]
    assert any("cursor=" in q and "%" in q for q in pages), pages


def test_deposits_count_once_complete_and_withdrawals_of_both_kinds(simulator, tmp_path):
    account = unified_account("FUNDKEY0001", "FUNDSECRET1")
    sim = simulator([account])
    hour_ago = sim.now_ms() - 3_600_000
    pending = Deposit("USDT", "1000", hour_ago, status=2)
    account.deposits += [pending, Deposit("BTC", "0.5", hour_ago + 1, deposit_fee=""),
                         Deposit("USDT", "7", hour_ago + 2, deposit_type=50)]  # not credited
    account.internal_deposits += [InternalDeposit("USDT", "25", hour_ago + 3),
                                  InternalDeposit("USDT", "99", hour_ago + 4, status=3)]  # failed
    account.withdrawals += [Withdrawal("USDT", "100", hour_ago + 5, withdraw_fee="1"),
                            Withdrawal("USDT", "40", hour_ago + 6, off_chain=True),
                            Withdrawal("BTC", "1", hour_ago + 7, status="Reject")]
    poller, state = ledger_poller(sim, account, deposits.ENDPOINT, tmp_path)
    poller.poll()
    assert totals(state()) == {
        ("bybit_deposits_total", ("BTC",)): 0.5, ("bybit_deposits_total", ("USDT",)): 25.0,
        ("bybit_withdrawals_total", ("USDT",)): 140.0,
        ("bybit_withdrawal_fees_total", ("USDT",)): 1.0}
    pending.status = 3  # it completes: counted now, once
    poller.poll()
    poller.poll()
    assert totals(state())[("bybit_deposits_total", ("USDT",))] == 1025.0
    withdrawals = [q for path, q in account.calls if path == deposits.SOURCES[2].path]
    assert withdrawals and all("withdrawType=2" in q for q in withdrawals)


def test_a_sub_account_key_is_refused_withdrawals_as_a_permission(simulator, tmp_path):
    account = unified_account("SUBKEY00001", "SUBSECRET01")
    account.parent_uid = "1"
    sim = simulator([account])
    poller, state = ledger_poller(sim, account, deposits.ENDPOINT, tmp_path)
    poller.poll()
    assert (state().up, state().failure_reason) == (False, Reason.PERMISSION)


def test_rows_before_the_first_start_are_not_counted_without_a_backfill(simulator, tmp_path):
    account = unified_account("NEWKEY00001", "NEWSECRET01")
    sim = simulator([account])
    account.ledger.transfer_in(sim.now_ms() - 60_000, "USDT", "500")
    poller, state = ledger_poller(sim, account, transactions.ENDPOINT, tmp_path, since=0.0)
    poller.poll()
    assert totals(state()) == {}
    account.ledger.transfer_in(sim.now_ms(), "USDT", "7")
    time.sleep(0.05)  # windows end where the poll began: the next poll's takes the row in
    poller.poll()
    assert totals(state())[("bybit_transfers_in_total", ("USDT",))] == float(Decimal("7"))
