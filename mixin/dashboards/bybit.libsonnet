// The "Bybit accounts" dashboard: its rows, one file each under rows/, in the order imported
// here. To add a row, write rows/<name>.libsonnet (`bybitDashboardRows+:: [g.row(...)]`, as the
// others) and import it below where it belongs.
local g = import '../lib/grafana.libsonnet';

(import 'rows/overview.libsonnet') +
(import 'rows/positions.libsonnet') +
(import 'rows/protection.libsonnet') +
(import 'rows/options.libsonnet') +
(import 'rows/net_worth.libsonnet') +
(import 'rows/coins.libsonnet') +
(import 'rows/money_flows.libsonnet') +
(import 'rows/api_keys.libsonnet') +
(import 'rows/exporter_health.libsonnet') +
{
  bybitDashboardRows+:: [],
  grafanaDashboards+:: {
    'bybit.json': g.dashboard(
      $._config,
      'Balances, margin, positions, wallets, API keys and exporter health from bybit-exporter.',
      $.bybitDashboardRows,
    ),
  },
}
