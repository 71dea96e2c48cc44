local g = import '../../lib/grafana.libsonnet';

{
  local s = g.series($._config),

  bybitDashboardRows+:: [
    g.row('Net worth by wallet', [
      g.timeseries(
        'Net worth per account',
        'bybit_total_equity_usd: every wallet of the account, in USD.',
        'currencyUSD',
        [g.query(s.account('bybit_total_equity_usd'), '{{account}}')],
      ),
      g.timeseries(
        'Equity by wallet',
        'bybit_wallet_equity_usd by wallet (unified, funding, ...), stacked.',
        'currencyUSD',
        [g.query(s.account('bybit_wallet_equity_usd'), '{{account}} {{wallet}}')],
      ) { fieldConfig+: { defaults+: { custom+: { stacking: { mode: 'normal', group: 'A' } } } } },
      g.timeseries(
        'Funding wallet coins',
        'USD value of each coin in the Funding wallet (bybit_coin_value_usd{account_type="FUND"}).',
        'currencyUSD',
        [g.query(s.account('bybit_coin_value_usd', ['account_type="FUND"']), '{{account}} {{coin}}')],
      ),
      g.timeseries(
        'Sub-accounts',
        "bybit_member_equity_usd: equity of each sub-account (member_uid) seen from the master account's key, in USD.",
        'currencyUSD',
        [g.query(s.account('bybit_member_equity_usd'), '{{account}} {{member_uid}}')],
      ),
    ]),
  ],
}
