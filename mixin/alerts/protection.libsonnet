// What stands between a position and its liquidation: Bybit liquidating or deleveraging it now,
// its place in the ADL queue, Bybit's own restrictions, its stops; what borrowing costs; and
// money leaving the account.
local promql = import '../lib/promql.libsonnet';

{
  local config = $._config,
  local series(name, matchers='') = promql.metric(name, [matchers, config.selector]),

  // while the collector's polls are not known good, the last value seen (promql.held)
  local held(selector, collector) =
    promql.held(selector, series('bybit_collector_up', 'collector="%s"' % collector)),

  local position = '{{ $labels.symbol }} ({{ $labels.category }}, {{ $labels.side }}, position_idx {{ $labels.position_idx }}) on {{ $labels.account }}',

  // 1 where the position has its own stop loss or trailing stop; otherwise the quantity of the
  // stop orders that can only close it over its size, at most 1; 0 where nothing would stop it
  // (only where the orders collector answers: elsewhere coverage is not known).
  local coverage = {
    record: 'position:bybit_stop_coverage:ratio',
    expr: |||
      (
          %(size)s * 0 + 1
        and
          (%(stop_loss)s or %(trailing)s)
      )
      or
        clamp_max(%(orders)s / %(size)s, 1)
      or
        (%(size)s * 0 and on (job, instance, account) %(orders_up)s == 1)
    ||| % {
      size: series('bybit_position_size'),
      stop_loss: series('bybit_position_stop_loss_price'),
      trailing: series('bybit_position_trailing_stop_distance'),
      orders: series('bybit_position_stop_order_quantity'),
      orders_up: series('bybit_collector_up', 'collector="orders"'),
    },
  },

  local unprotected = {
    alert: 'BybitPositionUnprotected',
    expr: '%s < 1' % series('position:bybit_stop_coverage:ratio'),
    'for': config.stopCoverageFor,
    labels: { severity: 'warning' },
    annotations: {
      summary: 'Bybit position {{ $labels.symbol }} {{ $labels.side }} of {{ $labels.account }} has no full stop',
      description: 'No stop loss or trailing stop of its own, and the stop orders that can only close it cover {{ $value | humanizePercentage }} of %s.' % position,
    },
  },

  local withdrawal = {
    alert: 'BybitWithdrawal',
    // A counter's increase over the window, exact (no extrapolation), or a coin's first
    // withdrawal: its series is new, while the deposits collector was already polled then.
    expr: |||
      (%(total)s - %(total)s offset %(window)s) > 0
      or
      (
          %(total)s unless %(total)s offset %(window)s
        and on (job, instance, account)
          %(deposits_up)s offset %(window)s
      )
    ||| % {
      total: series('bybit_withdrawals_total'),
      deposits_up: series('bybit_collector_up', 'collector="deposits"'),
      window: config.withdrawalWindow,
    },
    labels: { severity: config.withdrawalAlertSeverity },
    annotations: {
      summary: 'Money left Bybit account {{ $labels.account }}: {{ $value }} {{ $labels.coin }}',
      description: 'Withdrawals of {{ $value }} {{ $labels.coin }} from {{ $labels.account }} completed in the last %s. If nobody you know made them, the key that did may be stolen.' % config.withdrawalWindow,
    },
  },

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'bybit-protection',
        rules: [
          coverage,
          {
            alert: 'BybitPositionLiquidating',
            expr: '%s == 1' % held(series('bybit_position_status', 'status=~"Liq|Adl"'),
                                   'positions'),
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Bybit is closing position {{ $labels.symbol }} {{ $labels.side }} of {{ $labels.account }} ({{ $labels.status }})',
              description: 'Bybit reports %s as {{ $labels.status }}: Liq is a liquidation, Adl an auto-deleveraging, under way now.' % position,
            },
          },
          {
            alert: 'BybitPositionAdlRankHigh',
            expr: '%s >= %s' % [held(series('bybit_position_adl_rank'), 'positions'),
                                promql.number(config.adlRankWarning)],
            'for': '5m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit position {{ $labels.symbol }} {{ $labels.side }} of {{ $labels.account }} is near the front of the ADL queue',
              description: '%s has ADL rank {{ $value }} of 5: in a crash Bybit closes the highest ranks first, against the trader, to cover bankrupt positions.' % position,
            },
          },
          {
            alert: 'BybitPositionReduceOnly',
            // the value is when Bybit forces the adjustment, where it says; else 1
            expr: |||
              (%(forced)s and %(reduce_only)s == 1)
              or
              %(reduce_only)s == 1
            ||| % {
              forced: series('bybit_position_forced_adjustment_timestamp_seconds'),
              reduce_only: held(series('bybit_position_reduce_only'), 'positions'),
            },
            'for': '1m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit made position {{ $labels.symbol }} {{ $labels.side }} of {{ $labels.account }} reduce-only',
              description: 'Bybit lowered the risk limit of %s: it may only shrink. {{ if gt $value 1.0 }}Bybit adjusts its leverage or maintenance margin rate by force at {{ $value | humanizeTimestamp }}.{{ else }}Bybit gives no time for the forced adjustment.{{ end }}' % position,
            },
          },
        ] + (if config.stopLossRequired then [unprotected] else []) + [
          {
            alert: 'BybitBorrowRateHigh',
            expr: |||
              %(rate)s * 24 * 365 > %(threshold)s
              and on (job, instance, account, coin)
              %(borrowed)s > 0
            ||| % {
              rate: held(series('bybit_coin_hourly_borrow_rate'), 'borrowing'),
              threshold: promql.number(config.borrowRateYearlyWarningRatio),
              borrowed: series('bybit_coin_borrow_amount'),
            },
            'for': '5m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Borrowing {{ $labels.coin }} costs {{ $labels.account }} {{ $value | humanizePercentage }} a year',
              description: "Bybit's hourly borrow rate of {{ $labels.coin }}, which {{ $labels.account }} borrows, is {{ $value | humanizePercentage }} a year (24 x 365 hourly rates), above %s." % promql.percent(config.borrowRateYearlyWarningRatio),
            },
          },
          {
            alert: 'BybitBorrowUsageHigh',
            expr: '%s > %s' % [held(series('bybit_coin_borrow_usage_ratio'), 'borrowing'),
                               promql.number(config.borrowUsageWarningRatio)],
            'for': '5m',
            labels: { severity: 'warning' },
            annotations: {
              summary: '{{ $labels.account }} uses {{ $value | humanizePercentage }} of what it may borrow in {{ $labels.coin }}',
              description: 'The master account of {{ $labels.account }} and its sub-accounts together borrow {{ $value | humanizePercentage }} of their {{ $labels.coin }} borrowing limit: little is left to borrow if margin runs short.',
            },
          },
        ] + (if config.withdrawalAlertSeverity != '' then [withdrawal] else []),
      },
    ],
  },
}
