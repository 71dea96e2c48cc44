local g = import '../../lib/grafana.libsonnet';
local promql = import '../../lib/promql.libsonnet';

{
  local config = $._config,
  local s = g.series(config),

  bybitDashboardRows+:: [
    g.row('API keys', [
      g.stat(
        'Days until the API key expires',
        'From bybit_api_key_expiry_timestamp_seconds. Orange under %s days and red under %s are the BybitApiKeyExpiresSoon thresholds; keys without expiry show nothing.'
        % [promql.number(config.apiKeyExpiryWarningDays), promql.number(config.apiKeyExpiryCriticalDays)],
        'd',
        [g.query('(%s - time()) / 86400' % s.account('bybit_api_key_expiry_timestamp_seconds'), '{{account}}')],
      ) {
        fieldConfig+: { defaults+: { decimals: 1, thresholds: g.thresholds([
          ['red', null], ['orange', config.apiKeyExpiryCriticalDays], ['green', config.apiKeyExpiryWarningDays],
        ]) } },
      },
      g.stat(
        'Read-only key',
        'bybit_api_key_read_only: a key that can trade, transfer or withdraw raises BybitApiKeyNotReadOnly.',
        'none',
        [g.query(s.account('bybit_api_key_read_only'), '{{account}}')],
      ) {
        fieldConfig+: { defaults+: {
          mappings: g.booleanMappings(['CAN TRADE', 'red'], ['READ-ONLY', 'green']),
          thresholds: g.thresholds([['red', null], ['green', 1]]),
        } },
      },
      g.stat(
        'IP-restricted key',
        "bybit_api_key_ip_restricted: a key bound to the exporter's IP is useless to anyone who steals it.",
        'none',
        [g.query(s.account('bybit_api_key_ip_restricted'), '{{account}}')],
      ) {
        fieldConfig+: { defaults+: {
          mappings: g.booleanMappings(['ANY IP', 'orange'], ['IP-BOUND', 'green']),
          thresholds: g.thresholds([['orange', null], ['green', 1]]),
        } },
      },
      g.stat(
        'Margin mode',
        'bybit_account_info{margin_mode}: ISOLATED_MARGIN, REGULAR_MARGIN (cross) or PORTFOLIO_MARGIN.',
        'none',
        [g.query(s.account('bybit_account_info'), '{{account}}: {{margin_mode}}')],
      ) {
        fieldConfig+: { defaults+: { color: { mode: 'fixed', fixedColor: 'blue' } } },
        options+: { colorMode: 'none', textMode: 'name' },
      },
    ]),
  ],
}
