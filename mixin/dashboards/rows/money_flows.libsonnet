// What changed, from the money-flow counters (collectors transactions and deposits): each panel
// is a rolling 24 hours (a fixed [1d] range on purpose: "what did I make or pay today").
local g = import '../../lib/grafana.libsonnet';

{
  local s = g.series($._config),
  local daily(name, matchers=[]) = 'sum by (account, coin) (increase(%s[1d]))' % s.account(name, matchers),

  bybitDashboardRows+:: [
    g.row('Money flows', [
      g.timeseries(
        'Trading fees per day',
        'Fees paid (fee > 0 in the transaction log) and maker rebates received (fee < 0), over the last 24 hours, in the coin.',
        'short',
        [
          g.query(daily('bybit_trading_fees_paid_total'), '{{account}} {{coin}} paid'),
          g.query('-' + daily('bybit_trading_fee_rebates_total'), '{{account}} {{coin}} rebates'),
        ],
      ),
      g.timeseries(
        'Funding per day',
        'Funding received (positive) and paid (negative) on SETTLEMENT rows, over the last 24 hours, in the coin.',
        'short',
        [
          g.query(daily('bybit_funding_received_total'), '{{account}} {{coin}} received'),
          g.query('-' + daily('bybit_funding_paid_total'), '{{account}} {{coin}} paid'),
        ],
      ),
      g.timeseries(
        'Borrow interest per day',
        'Interest paid on borrowed coins (INTEREST rows), over the last 24 hours, in the coin.',
        'short',
        [g.query(daily('bybit_interest_paid_total'), '{{account}} {{coin}}')],
      ),
      g.timeseries(
        'Realised PnL per day',
        'cashFlow of fills, deliveries, liquidations and ADL (fees and funding not in it): profit positive, loss negative, over the last 24 hours, in the coin.',
        'short',
        [
          g.query(daily('bybit_realised_profit_total'), '{{account}} {{coin}} profit'),
          g.query('-' + daily('bybit_realised_loss_total'), '{{account}} {{coin}} loss'),
        ],
      ),
      g.timeseries(
        'Transfers, deposits and withdrawals per day',
        'Money moved into the Unified account (TRANSFER_IN, positive) and out (TRANSFER_OUT, negative), and completed deposits and withdrawals of the Funding wallet, over the last 24 hours, in the coin.',
        'short',
        [
          g.query(daily('bybit_transfers_in_total'), '{{account}} {{coin}} transferred in'),
          g.query('-' + daily('bybit_transfers_out_total'), '{{account}} {{coin}} transferred out'),
          g.query(daily('bybit_deposits_total'), '{{account}} {{coin}} deposited'),
          g.query('-' + daily('bybit_withdrawals_total'), '{{account}} {{coin}} withdrawn'),
        ],
      ),
      g.timeseries(
        'Trading PnL net of transfers (24 h)',
        'Change of the equity over the last 24 hours minus the money transferred in, net of transfers out (valued at the USD price of each coin in the Unified wallet): what trading made, transfers left out. Recording rules account:bybit_trading_pnl_usd:increase1d and account:bybit_net_transfers_in_usd:increase1d.',
        'currencyUSD',
        [
          g.query(s.account('account:bybit_trading_pnl_usd:increase1d'), '{{account}} trading PnL'),
          g.query(s.account('account:bybit_net_transfers_in_usd:increase1d'), '{{account}} net transfers in'),
        ],
      ),
    ]),
  ],
}
