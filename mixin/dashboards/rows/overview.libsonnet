local g = import '../../lib/grafana.libsonnet';
local promql = import '../../lib/promql.libsonnet';

{
  local config = $._config,
  local s = g.series(config),
  local marginSteps = g.thresholds([['green', null], ['orange', config.maintenanceMarginWarningRatio],
                                    ['red', config.maintenanceMarginCriticalRatio]]),

  bybitDashboardRows+:: [
    g.row('Overview', [
      g.timeseries(
        'Total equity per account',
        'totalEquity, in USD, summed over the account types (recorded by account:bybit_account_equity_usd:sum; the account type filter does not apply).',
        'currencyUSD',
        [g.query(s.account('account:bybit_account_equity_usd:sum'), '{{account}}')],
      ),
      g.gauge(
        'Maintenance margin rate',
        'accountMMRate and accountMMRateByMp: liquidation at 100%%. Orange and red are the BybitMaintenanceMarginHigh (%s) and BybitMaintenanceMarginCritical (%s) alert thresholds.'
        % [promql.percent(config.maintenanceMarginWarningRatio), promql.percent(config.maintenanceMarginCriticalRatio)],
        'percentunit',
        [
          g.query(s.wallet('bybit_account_maintenance_margin_ratio'), '{{account}} {{account_type}}'),
          g.query(s.wallet('bybit_account_maintenance_margin_by_mark_price_ratio'), '{{account}} {{account_type}} (mark)'),
        ],
      ) { fieldConfig+: { defaults+: { min: 0, max: 1, decimals: 1, thresholds: marginSteps } } },
      g.gauge(
        'Initial margin rate',
        'accountIMRate and accountIMRateByMp: no new positions at 100%%. Red is the BybitInitialMarginExhausted alert threshold (%s).'
        % promql.percent(config.initialMarginExhaustedRatio),
        'percentunit',
        [
          g.query(s.wallet('bybit_account_initial_margin_ratio'), '{{account}} {{account_type}}'),
          g.query(s.wallet('bybit_account_initial_margin_by_mark_price_ratio'), '{{account}} {{account_type}} (mark)'),
        ],
      ) {
        fieldConfig+: { defaults+: { min: 0, max: 1, decimals: 1, thresholds: g.thresholds([['green', null], ['red', config.initialMarginExhaustedRatio]]) } },
      },
      g.timeseries(
        'Margin rates over time',
        'Maintenance (last and mark price) and initial margin rates, with the maintenance alert thresholds.',
        'percentunit',
        [
          g.query(s.wallet('bybit_account_maintenance_margin_ratio'), '{{account}} {{account_type}} maintenance'),
          g.query(s.wallet('bybit_account_maintenance_margin_by_mark_price_ratio'), '{{account}} {{account_type}} maintenance (mark)'),
          g.query(s.wallet('bybit_account_initial_margin_ratio'), '{{account}} {{account_type}} initial'),
        ],
      ) {
        fieldConfig+: { defaults+: { custom+: { thresholdsStyle: { mode: 'line+area' } }, thresholds: marginSteps, min: 0, max: 1 } },
      },
      g.timeseries(
        'Available and margin balance',
        'totalAvailableBalance and totalMarginBalance, in USD.',
        'currencyUSD',
        [
          g.query(s.wallet('bybit_account_available_balance_usd'), '{{account}} {{account_type}} available'),
          g.query(s.wallet('bybit_account_margin_balance_usd'), '{{account}} {{account_type}} margin'),
        ],
      ),
    ]),
  ],
}
