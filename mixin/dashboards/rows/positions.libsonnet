local g = import '../../lib/grafana.libsonnet';
local promql = import '../../lib/promql.libsonnet';

{
  local config = $._config,
  local s = g.series(config),
  local distanceSteps = g.thresholds([['red', null], ['orange', config.liquidationDistanceCriticalRatio],
                                      ['green', config.liquidationDistanceWarningRatio]]),
  local thresholdsText = '%s and %s' % [promql.percent(config.liquidationDistanceWarningRatio),
                                       promql.percent(config.liquidationDistanceCriticalRatio)],
  // Table columns: metric -> column name, in order.
  local columns = [
    ['bybit_position_size', 'Size'],
    ['bybit_position_entry_price', 'Entry price'],
    ['bybit_position_mark_price', 'Mark price'],
    ['bybit_position_liquidation_price', 'Liquidation price'],
    ['bybit_position_liquidation_distance_ratio', 'Liquidation distance'],
    ['bybit_position_unrealised_pnl', 'Unrealised PnL'],
    ['bybit_position_leverage', 'Leverage'],
  ],

  bybitDashboardRows+:: [
    g.row('Positions', [
      g.table(
        'Open positions',
        "One row per position. Liquidation distance: how far the mark price is from the liquidation price, as a share of the mark price; orange under %s and red under %s are the BybitPositionNearLiquidation thresholds. Empty in portfolio margin, where Bybit gives positions no liquidation price: the account's margin rate is the measure there (the panel beside). Amounts in the contract's coin."
        % [promql.percent(config.liquidationDistanceWarningRatio), promql.percent(config.liquidationDistanceCriticalRatio)],
        'none',
        [g.tableQuery(s.account(c[0])) for c in columns],
      ) {
        transformations: g.mergedColumns(columns, { account: 0, category: 1, symbol: 2, side: 3, position_idx: 4 }),
        fieldConfig+: {
          overrides: [
            {
              matcher: { id: 'byName', options: 'Liquidation distance' },
              properties: [
                { id: 'unit', value: 'percentunit' },
                { id: 'decimals', value: 1 },
                { id: 'thresholds', value: distanceSteps },
                { id: 'custom.cellOptions', value: { type: 'color-background' } },
              ],
            },
            { matcher: { id: 'byName', options: 'Leverage' }, properties: [{ id: 'unit', value: 'short' }] },
          ],
        },
        options+: { sortBy: [{ displayName: 'Liquidation distance', desc: false }] },
      },
      g.timeseries(
        'Liquidation distance',
        'bybit_position_liquidation_distance_ratio per position; the orange and red bands are the BybitPositionNearLiquidation thresholds (%s).' % thresholdsText,
        'percentunit',
        [g.query(s.account('bybit_position_liquidation_distance_ratio'), '{{account}} {{symbol}} {{side}} {{position_idx}}')],
        w=24,
      ) {
        fieldConfig+: { defaults+: { custom+: { thresholdsStyle: { mode: 'line+area' } }, min: 0, thresholds: distanceSteps } },
      },
      g.table(
        'Portfolio margin: the account is the measure',
        "Accounts in portfolio margin, whose positions have no liquidation price: Bybit liquidates on the account's maintenance margin rate, shown here with the BybitMaintenanceMarginHigh and ...Critical thresholds. No distance in the table above is no safety here.",
        'percentunit',
        [g.tableQuery('%s and on (job, instance, account) %s' % [s.wallet('bybit_account_maintenance_margin_ratio'), s.account('bybit_account_info', ['margin_mode="PORTFOLIO_MARGIN"'])])],
      ) {
        transformations: [{ id: 'organize', options: { excludeByName: { Time: true, job: true, instance: true, __name__: true }, renameByName: { Value: 'Maintenance margin rate' } } }],
        fieldConfig+: {
          defaults+: {
            thresholds: g.thresholds([['green', null], ['orange', config.maintenanceMarginWarningRatio], ['red', config.maintenanceMarginCriticalRatio]]),
            custom+: { cellOptions: { type: 'color-background' } },
          },
        },
      },
    ]),
  ],
}
