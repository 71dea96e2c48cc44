local promql = import '../lib/promql.libsonnet';

{
  local config = $._config,
  local series(name, matchers='') = promql.metric(name, [matchers, config.selector]),
  local maintenance = series('', '__name__=~"bybit_account_maintenance_margin_ratio|bybit_account_maintenance_margin_by_mark_price_ratio"'),
  local initial = series('', '__name__=~"bybit_account_initial_margin_ratio|bybit_account_initial_margin_by_mark_price_ratio"'),
  local positionsKnownGood = series('bybit_collector_up', 'collector="positions"') + ' == 1',

  // The highest of the account's rates named by `rates`, or, while its polls are not known good,
  // the last value seen in the hold window.
  local heldRate(rates, threshold) = |||
    max by (job, instance, account, account_type) (
        %(rates)s
      or
        (last_over_time(%(rates)s[10m])
         unless on (job, instance, account, account_type) %(up)s == 1)
    ) >= %(threshold)s
  ||| % { rates: rates, up: series('bybit_up'), threshold: promql.number(threshold) },

  local marginDescription = 'Maintenance margin rate of {{ $labels.account }} ({{ $labels.account_type }}) is {{ $value | humanizePercentage }}; liquidation at 100%.',

  // A position's liquidation distance, or, while the positions collector is not known good, the
  // last value seen in the hold window.
  local heldDistance(threshold) = |||
    (
        %(distance)s
      or
        (last_over_time(%(distance)s[10m])
         unless on (job, instance, account) %(known)s)
    ) < %(threshold)s
  ||| % { distance: series('bybit_position_liquidation_distance_ratio'), known: positionsKnownGood,
          threshold: promql.number(threshold) },

  local positionDescription = 'The mark price of {{ $labels.symbol }} ({{ $labels.category }}, {{ $labels.side }}, position_idx {{ $labels.position_idx }}) on {{ $labels.account }} is {{ $value | humanizePercentage }} away from the liquidation price.',

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'bybit-margin',
        rules: [
          {
            alert: 'BybitMaintenanceMarginHigh',
            expr: heldRate(maintenance, config.maintenanceMarginWarningRatio),
            'for': '2m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit account {{ $labels.account }} is %s of the way to liquidation' % promql.percent(config.maintenanceMarginWarningRatio),
              description: marginDescription,
            },
          },
          {
            alert: 'BybitMaintenanceMarginCritical',
            expr: heldRate(maintenance, config.maintenanceMarginCriticalRatio),
            'for': '1m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Bybit account {{ $labels.account }} is close to liquidation',
              description: marginDescription,
            },
          },
          {
            alert: 'BybitMaintenanceMarginRising',
            expr: |||
              max by (job, instance, account, account_type) (
                (
                    label_replace(predict_linear(%(last)s[%(window)s], %(horizon)d)
                                  and %(last)s, "price", "last", "", "")
                  or
                    label_replace(predict_linear(%(mark)s[%(window)s], %(horizon)d)
                                  and %(mark)s, "price", "mark", "", "")
                )
                and on (job, instance, account, account_type) %(up)s == 1
              ) >= 1
            ||| % {
              last: series('bybit_account_maintenance_margin_ratio'),
              mark: series('bybit_account_maintenance_margin_by_mark_price_ratio'),
              up: series('bybit_up'),
              window: config.marginRisingWindow,
              horizon: promql.seconds(config.marginRisingHorizon),
            },
            'for': '5m',
            keep_firing_for: '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit account {{ $labels.account }} heads for liquidation within %s' % config.marginRisingHorizon,
              description: 'At the pace of the last %s, the maintenance margin rate of {{ $labels.account }} ({{ $labels.account_type }}) reaches {{ $value | humanizePercentage }} in %s.' % [config.marginRisingWindow, config.marginRisingHorizon],
            },
          },
          {
            alert: 'BybitInitialMarginExhausted',
            expr: heldRate(initial, config.initialMarginExhaustedRatio),
            'for': '5m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit account {{ $labels.account }} cannot open new positions',
              description: 'Initial margin rate of {{ $labels.account }} ({{ $labels.account_type }}) is {{ $value | humanizePercentage }}; new positions need it below 100%.',
            },
          },
          {
            alert: 'BybitPositionNearLiquidation',
            expr: heldDistance(config.liquidationDistanceWarningRatio),
            'for': '2m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit position {{ $labels.symbol }} {{ $labels.side }} of {{ $labels.account }} nears liquidation',
              description: positionDescription,
            },
          },
          {
            alert: 'BybitPositionNearLiquidation',
            expr: heldDistance(config.liquidationDistanceCriticalRatio),
            'for': '1m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Bybit position {{ $labels.symbol }} {{ $labels.side }} of {{ $labels.account }} is about to be liquidated',
              description: positionDescription,
            },
          },
        ],
      },
    ],
  },
}
