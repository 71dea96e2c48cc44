local g = import '../../lib/grafana.libsonnet';

{
  local s = g.series($._config),

  bybitDashboardRows+:: [
    g.row('Coins', [
      g.timeseries(
        'Equity per coin',
        'equity of each coin, in the coin; negative for a borrowed coin.',
        'short',
        [g.query(s.wallet('bybit_coin_equity'), '{{account}} {{coin}}')],
      ),
      g.timeseries(
        'USD value per coin',
        'usdValue of each coin.',
        'currencyUSD',
        [g.query(s.wallet('bybit_coin_value_usd', ['account_type!="FUND"']), '{{account}} {{coin}}')],
      ),
      g.timeseries(
        'Borrows and accrued interest',
        'borrowAmount and accruedInterest of borrowed coins, in the coin.',
        'short',
        [
          g.query(s.wallet('bybit_coin_borrow_amount') + ' > 0', '{{account}} {{coin}} borrowed'),
          g.query(s.wallet('bybit_coin_accrued_interest') + ' > 0', '{{account}} {{coin}} interest'),
        ],
      ),
      g.timeseries(
        'Unrealised PnL',
        'totalPerpUPL in USD, and unrealisedPnl of each coin in the coin.',
        'short',
        [
          g.query(s.wallet('bybit_account_perp_unrealised_pnl_usd'), '{{account}} perpetuals (USD)'),
          g.query(s.wallet('bybit_coin_unrealised_pnl') + ' != 0', '{{account}} {{coin}}'),
        ],
      ),
    ]),
  ],
}
