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
        ],
      },
    ],
  },
}
