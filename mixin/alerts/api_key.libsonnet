local promql = import '../lib/promql.libsonnet';

{
  local config = $._config,
  local series(name, matchers='') = promql.metric(name, [matchers, config.selector]),

  local expiresSoon(days, severity) = {
    alert: 'BybitApiKeyExpiresSoon',
    expr: 'last_over_time(%s[10m]) - time() < %s * 86400'
          % [series('bybit_api_key_expiry_timestamp_seconds'), promql.number(days)],
    'for': '5m',
    labels: { severity: severity },
    annotations: {
      summary: 'The Bybit API key of {{ $labels.account }} expires within %s days' % promql.number(days),
      description: 'The API key of {{ $labels.account }} expires in {{ $value | humanizeDuration }}; after that every poll fails with reason auth.',
    },
  },

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'bybit-api-key',
        rules: [
          expiresSoon(config.apiKeyExpiryWarningDays, 'warning'),
          expiresSoon(config.apiKeyExpiryCriticalDays, 'critical'),
          {
            alert: 'BybitApiKeyNotReadOnly',
            expr: 'last_over_time(%s[10m]) == 0' % series('bybit_api_key_read_only'),
            'for': '5m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'The Bybit API key of {{ $labels.account }} is not read-only',
              description: 'The key the exporter uses for {{ $labels.account }} can trade, transfer or withdraw: whoever reads it from this host can move the funds.',
            },
          },
          {
            alert: 'BybitApiKeyPermissionMissing',
            expr: |||
              (
                  %(failing)s
                or
                  (last_over_time(%(failing)s[10m])
                   unless on (job, instance, account, collector) %(up)s == 1)
              ) == 1
            ||| % { failing: series('bybit_collector_failing', 'reason="permission"'),
                    up: series('bybit_collector_up') },
            'for': '15m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'The Bybit API key of {{ $labels.account }} lacks a permission for {{ $labels.collector }}',
              description: "Bybit refuses the {{ $labels.collector }} calls of {{ $labels.account }} for lack of a permission: those metrics are missing. Grant the read permission, or drop the collector from the account's collect list.",
            },
          },
          {
            alert: 'BybitApiKeyRejected',
            expr: |||
              (
                  %(failing)s
                or
                  (last_over_time(%(failing)s[10m])
                   unless on (job, instance, account, account_type) %(up)s == 1)
              ) == 1
            ||| % { failing: series('bybit_poll_failing', 'reason="auth"'), up: series('bybit_up') },
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Bybit refuses the API key of {{ $labels.account }}',
              description: 'Bybit rejected the key of {{ $labels.account }} ({{ $labels.account_type }}): revoked, expired, without read permission, or this IP is not whitelisted.',
            },
          },
        ],
      },
    ],
  },
}
