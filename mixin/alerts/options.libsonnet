// Options desks: market-maker protection freezing quoting, and the limits a desk sets on its
// greeks per base coin (none by default).
local promql = import '../lib/promql.libsonnet';

{
  local config = $._config,
  local series(name, matchers='') = promql.metric(name, [matchers, config.selector]),

  // while the collector's polls are not known good, the last value seen (promql.held)
  local held(selector, collector) =
    promql.held(selector, series('bybit_collector_up', 'collector="%s"' % collector)),

  // One rule per base coin and greek of _config.optionGreekLimits.
  local greekLimit(coin, greek, limit) = {
    alert: 'BybitOptionGreekLimit',
    expr: 'abs(%s) > %s' % [held(series('bybit_greeks_' + greek, 'base_coin="%s"' % coin),
                                 'options'), promql.number(limit)],
    'for': config.optionGreekLimitFor,
    labels: { severity: 'warning', greek: greek },
    annotations: {
      summary: 'The %s of {{ $labels.account }} on {{ $labels.base_coin }} is beyond its limit' % greek,
      description: "The options of {{ $labels.account }} on %s have a %s of {{ $value }} in absolute terms, beyond the desk's limit of %s (_config.optionGreekLimits)." % [coin, greek, promql.number(limit)],
    },
  },

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'bybit-options',
        rules: [
          {
            alert: 'BybitMmpFrozen',
            expr: '%s == 1' % held(series('bybit_mmp_frozen'), 'mmp'),
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Market-maker protection froze the {{ $labels.base_coin }} options of {{ $labels.account }}',
              description: "Bybit's MMP has frozen quoting on {{ $labels.account }}'s {{ $labels.base_coin }} options: its quotes are cancelled and new ones refused until the freeze ends or is reset.",
            },
          },
        ] + [
          greekLimit(coin, greek, config.optionGreekLimits[coin][greek])
          for coin in std.objectFields(config.optionGreekLimits)
          for greek in std.objectFields(config.optionGreekLimits[coin])
        ],
      },
    ],
  },
}
