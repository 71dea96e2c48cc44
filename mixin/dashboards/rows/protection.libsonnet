local g = import '../../lib/grafana.libsonnet';
local promql = import '../../lib/promql.libsonnet';

{
  local config = $._config,
  local s = g.series(config),
  local yearly(rate) = '%s * 24 * 365' % rate,
  local borrowed = s.wallet('bybit_coin_borrow_amount') + ' > 0',
  // Table columns: query -> column name, in order.
  local positionColumns = [
    [s.account('bybit_position_adl_rank'), 'ADL rank'],
    [s.account('bybit_position_status') + ' == 1', 'In status'],
    [s.account('position:bybit_stop_coverage:ratio'), 'Stop coverage'],
    [s.account('bybit_position_stop_loss_price'), 'Stop loss'],
    [s.account('bybit_position_trailing_stop_distance'), 'Trailing stop'],
    [s.account('bybit_position_take_profit_price'), 'Take profit'],
    [s.account('bybit_position_reduce_only'), 'Reduce-only'],
    [s.account('bybit_position_forced_adjustment_timestamp_seconds') + ' * 1000', 'Forced adjustment'],
  ],
  local orderColumns = [
    [s.account('bybit_open_orders'), 'Orders'],
    [s.account('bybit_open_order_quantity'), 'Unfilled quantity'],
  ],
  local borrowColumns = [
    ['%s and on (job, instance, account, coin) %s' % [yearly(s.account('bybit_coin_hourly_borrow_rate')), borrowed], 'Yearly rate'],
    [s.account('bybit_coin_borrow_usage_ratio') + ' and on (job, instance, account, coin) ' + borrowed, 'Limit in use'],
    [s.account('bybit_coin_available_to_borrow') + ' and on (job, instance, account, coin) ' + borrowed, 'Available to borrow'],
  ],
  local ratio(name, steps) = {
    matcher: { id: 'byName', options: name },
    properties: [
      { id: 'unit', value: 'percentunit' },
      { id: 'decimals', value: 1 },
      { id: 'thresholds', value: g.thresholds(steps) },
      { id: 'custom.cellOptions', value: { type: 'color-background' } },
    ],
  },

  bybitDashboardRows+:: [
    g.row('Protection', [
      g.table(
        'Position protection',
        "What stands between each position and its liquidation. Status: Bybit's (Normal, Liq being liquidated, Adl being auto-deleveraged). ADL rank 1-5: the highest is deleveraged first; BybitPositionAdlRankHigh fires from %s. Stop coverage: 1 with the position's own stop loss or trailing stop, else the share of its size that reduce-only stop orders would close; empty where open orders are not collected. Reduce-only: Bybit lowered the risk limit, and forces the adjustment at the time shown. Prices in the contract's quote." % promql.number(config.adlRankWarning),
        'none',
        [g.tableQuery(c[0]) for c in positionColumns],
      ) {
        transformations: g.mergedColumns(positionColumns, { account: 0, category: 1, symbol: 2, side: 3, position_idx: 4, status: 5 }, hidden=['In status']),
        fieldConfig+: {
          overrides: [
            ratio('Stop coverage', [['red', null], ['orange', 0.5], ['green', 1]]),
            {
              matcher: { id: 'byName', options: 'ADL rank' },
              properties: [
                { id: 'thresholds', value: g.thresholds([['green', null], ['orange', config.adlRankWarning], ['red', 5]]) },
                { id: 'custom.cellOptions', value: { type: 'color-background' } },
              ],
            },
            { matcher: { id: 'byName', options: 'Forced adjustment' }, properties: [{ id: 'unit', value: 'dateTimeAsIso' }] },
          ],
        },
        options+: { sortBy: [{ displayName: 'Stop coverage', desc: false }] },
      },
      g.timeseries(
        'ADL rank',
        'bybit_position_adl_rank per position: 5 is closed first when Bybit auto-deleverages.',
        'none',
        [g.query(s.account('bybit_position_adl_rank'), '{{account}} {{symbol}} {{side}} {{position_idx}}')],
      ) {
        fieldConfig+: { defaults+: { min: 0, max: 5, decimals: 0 } },
      },
      g.table(
        'Open orders by kind',
        'Open orders per symbol and side (bybit_open_orders), and their unfilled quantity in the contract or coin (bybit_open_order_quantity). Kinds: limit, market, take_profit, stop_loss, trailing_stop, conditional.',
        'none',
        [g.tableQuery(c[0]) for c in orderColumns],
        w=12,
      ) {
        transformations: g.mergedColumns(orderColumns, { account: 0, category: 1, symbol: 2, side: 3, kind: 4 }),
      },
      g.table(
        'Borrowed coins',
        "Coins the account borrows: Bybit's hourly borrow rate times 24 x 365 (BybitBorrowRateHigh above %s), the share of the borrowing limit in use by the master account and its sub-accounts together (BybitBorrowUsageHigh above %s), and what is left to borrow, in the coin." % [promql.percent(config.borrowRateYearlyWarningRatio), promql.percent(config.borrowUsageWarningRatio)],
        'none',
        [g.tableQuery(c[0]) for c in borrowColumns],
        w=12,
      ) {
        transformations: g.mergedColumns(borrowColumns, { account: 0, coin: 1 }),
        fieldConfig+: {
          overrides: [
            ratio('Yearly rate', [['green', null], ['red', config.borrowRateYearlyWarningRatio]]),
            ratio('Limit in use', [['green', null], ['red', config.borrowUsageWarningRatio]]),
          ],
        },
      },
      g.timeseries(
        'Yearly borrow rate of borrowed coins',
        "Bybit's hourly borrow rate of each coin the account borrows, times 24 x 365; the red band is BybitBorrowRateHigh's threshold (%s)." % promql.percent(config.borrowRateYearlyWarningRatio),
        'percentunit',
        [g.query('%s and on (job, instance, account, coin) %s' % [yearly(s.account('bybit_coin_hourly_borrow_rate')), borrowed], '{{account}} {{coin}}')],
        w=24,
      ) {
        fieldConfig+: { defaults+: { custom+: { thresholdsStyle: { mode: 'line+area' } }, min: 0, thresholds: g.thresholds([['transparent', null], ['red', config.borrowRateYearlyWarningRatio]]) } },
      },
    ]),
  ],
}
