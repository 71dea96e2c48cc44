// Recording rules for the dashboard's heavier queries (prometheus/rules.yml). Each aggregates
// `without` the labels it sums over, so the target's own labels (job, instance, and whatever
// _config.selector matches on, such as cluster) stay and the dashboard can still filter on them.
// To add one: append it to the group below and use its name in a panel; the dashboard lint
// accepts any name recorded here.
local promql = import '../lib/promql.libsonnet';

{
  local config = $._config,
  local series(name, matchers='') = promql.metric(name, [matchers, config.selector]),

  prometheusRules+:: {
    groups+: [
      {
        name: 'bybit-exporter.rules',
        rules: [
          {
            // Equity of each account over its wallet-balance account types (UNIFIED, CONTRACT,
            // SPOT, ...): "Total equity per account".
            record: 'account:bybit_account_equity_usd:sum',
            expr: 'sum without (account_type) (%s)' % series('bybit_account_equity_usd'),
          },
          {
            // Fields of Bybit's last answers that could not be read, per account over its
            // account types and collectors: "Collectors and unreadable fields".
            record: 'account:bybit_invalid_fields:sum',
            expr: 'sum without (account_type, collector) (%s)' % series('bybit_invalid_fields'),
          },
          {
            // USD price of each coin, from the Unified wallet's usdValue and equity: to value
            // transfers, which the transaction log gives in the coin.
            record: 'coin:bybit_coin_price_usd:max',
            expr: 'max without (account, account_type) (%s / (%s != 0))'
                  % [series('bybit_coin_value_usd', 'account_type="UNIFIED"'),
                     series('bybit_coin_equity', 'account_type="UNIFIED"')],
          },
          {
            // Money transferred into the Unified account over the last day, net of what went
            // out, in USD: "Trading PnL net of transfers".
            record: 'account:bybit_net_transfers_in_usd:increase1d',
            local transfers_in = 'increase(%s[1d])' % series('bybit_transfers_in_total'),
            local transfers_out = 'increase(%s[1d])' % series('bybit_transfers_out_total'),
            expr: |||
              sum without (coin) (
                ((%(in)s or %(out)s * 0) - (%(out)s or %(in)s * 0))
                * ignoring (account) group_left () %(price)s
              )
            ||| % { 'in': transfers_in, out: transfers_out,
                    price: series('coin:bybit_coin_price_usd:max') },
          },
          {
            // Equity change over the last day minus the money transferred in: what trading
            // (fees, funding, interest and PnL, realised or not) made.
            record: 'account:bybit_trading_pnl_usd:increase1d',
            local change = 'delta(%s[1d])' % series('account:bybit_account_equity_usd:sum'),
            expr: '%s - (%s or %s * 0)'
                  % [change, series('account:bybit_net_transfers_in_usd:increase1d'), change],
          },
        ],
      },
    ],
  },
}
