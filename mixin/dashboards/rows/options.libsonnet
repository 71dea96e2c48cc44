local g = import '../../lib/grafana.libsonnet';

{
  local config = $._config,
  local s = g.series(config),
  local option = 'category="option"',
  // Table columns: query -> column name, in order.
  local bookColumns = [
    [s.account('bybit_position_size', [option]), 'Size'],
    [s.account('bybit_position_mark_price', [option]), 'Mark price'],
    [s.account('bybit_position_delta', [option]), 'Delta'],
    [s.account('bybit_position_gamma', [option]), 'Gamma'],
    [s.account('bybit_position_vega', [option]), 'Vega'],
    [s.account('bybit_position_theta', [option]), 'Theta'],
    [s.account('bybit_position_expiry_timestamp_seconds', [option]) + ' - time()', 'Time to expiry'],
    [s.account('bybit_position_unrealised_pnl', [option]), 'Unrealised PnL'],
  ],
  local marginColumns = [
    [s.account('bybit_option_initial_margin'), 'Initial margin'],
    [s.account('bybit_option_maintenance_margin'), 'Maintenance margin'],
    [s.account('bybit_option_unrealised_pnl'), 'Unrealised PnL'],
    [s.account('bybit_option_delta'), 'Delta'],
  ],
  local mmpColumns = [
    [s.account('bybit_mmp_enabled'), 'Enabled'],
    [s.account('bybit_mmp_frozen'), 'Frozen'],
    [s.account('bybit_mmp_window_seconds'), 'Window'],
    [s.account('bybit_mmp_frozen_period_seconds'), 'Freeze lasts'],
    [s.account('bybit_mmp_delta_limit'), 'Delta limit'],
    [s.account('bybit_mmp_vega_limit'), 'Vega limit'],
  ],
  local greeks(greek, title) = g.timeseries(
    title,
    'bybit_greeks_%s: the %s of the account\'s options on each base coin, summed by Bybit (coin-greeks).' % [greek, greek],
    'none',
    [g.query(s.account('bybit_greeks_' + greek), '{{account}} {{base_coin}}')],
    w=6,
  ),

  bybitDashboardRows+:: [
    g.row('Options', [
      greeks('delta', 'Delta per base coin'),
      greeks('gamma', 'Gamma per base coin'),
      greeks('vega', 'Vega per base coin'),
      greeks('theta', 'Theta per base coin'),
      g.table(
        'Option book',
        "Every option position with its greeks (for the position's size, as Bybit computes them) and the time left to its expiry. In portfolio margin options have no liquidation price: the account's margin rate is the measure.",
        'none',
        [g.tableQuery(c[0]) for c in bookColumns],
      ) {
        transformations: g.mergedColumns(bookColumns, { account: 0, category: 1, symbol: 2, side: 3, position_idx: 4 }),
        fieldConfig+: {
          overrides: [{ matcher: { id: 'byName', options: 'Time to expiry' }, properties: [{ id: 'unit', value: 's' }] }],
        },
        options+: { sortBy: [{ displayName: 'Time to expiry', desc: false }] },
      },
      g.table(
        'Option margin per settle coin',
        "Initial and maintenance margin of the options settled in each coin, open option orders included, their unrealised PnL and delta (option-asset-info), in the coin.",
        'none',
        [g.tableQuery(c[0]) for c in marginColumns],
        w=12,
      ) {
        transformations: g.mergedColumns(marginColumns, { account: 0, coin: 1 }),
      },
      g.table(
        'Market-maker protection',
        'MMP per base coin: whether it is on, whether it froze quoting now (BybitMmpFrozen), and its settings. Accounts without MMP show it off.',
        'none',
        [g.tableQuery(c[0]) for c in mmpColumns],
        w=12,
      ) {
        transformations: g.mergedColumns(mmpColumns, { account: 0, base_coin: 1 }),
        fieldConfig+: {
          overrides: [
            {
              matcher: { id: 'byName', options: 'Frozen' },
              properties: [
                { id: 'mappings', value: g.booleanMappings(['no', 'green'], ['FROZEN', 'red']) },
                { id: 'custom.cellOptions', value: { type: 'color-background' } },
              ],
            },
            { matcher: { id: 'byName', options: 'Enabled' }, properties: [{ id: 'mappings', value: g.booleanMappings(['off', 'text'], ['on', 'text']) }] },
            { matcher: { id: 'byRegexp', options: 'Window|Freeze lasts' }, properties: [{ id: 'unit', value: 's' }] },
          ],
        },
      },
    ]),
  ],
}
