local promql = import '../lib/promql.libsonnet';

{
  local config = $._config,
  local series(name, matchers='') = promql.metric(name, [matchers, config.selector]),

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'bybit-exporter',
        rules: [
          {
            alert: 'BybitPollsFailing',
            expr: 'last_over_time(%s[10m]) == 0' % series('bybit_up'),
            'for': '5m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'Bybit balances of {{ $labels.account }} are not being updated',
              description: 'Every poll of {{ $labels.account }} ({{ $labels.account_type }}) has failed for 5 minutes: margin alerts for it are blind. See bybit_poll_failing for the reason.',
            },
          },
          {
            alert: 'BybitDataStale',
            expr: '(time() - %s) > %s * %s' % [series('bybit_last_success_timestamp_seconds'),
                                               promql.number(config.staleAfterPollIntervals),
                                               series('bybit_poll_interval_seconds')],
            'for': '1m',
            keep_firing_for: '10m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit data of {{ $labels.account }} is stale',
              description: 'The last successful poll of {{ $labels.account }} ({{ $labels.account_type }}) was {{ $value | humanizeDuration }} ago.',
            },
          },
          {
            alert: 'BybitRateLimited',
            expr: |||
              (increase(%(errors)s[%(window)s]) >= %(polls)s)
              or
              (%(failing)s == 1)
            ||| % { errors: series('bybit_poll_errors_total', 'reason="rate_limit"'),
                    failing: series('bybit_poll_failing', 'reason="rate_limit"'),
                    window: config.rateLimitedWindow,
                    polls: promql.number(config.rateLimitedPolls) },
            'for': '5m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit rate-limits the polls of {{ $labels.account }}',
              description: "Polls of {{ $labels.account }} ({{ $labels.account_type }}) keep hitting Bybit's rate limits (per key, or an IP ban).",
            },
          },
          {
            alert: 'BybitCollectorFailing',
            expr: |||
              (last_over_time(%(up)s[10m]) == 0)
              unless on (job, instance, account, collector)
              (%(failing)s == 1)
            ||| % { up: series('bybit_collector_up'),
                    failing: series('bybit_collector_failing', 'reason="permission"') },
            'for': '15m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'The {{ $labels.collector }} collector of {{ $labels.account }} keeps failing',
              description: 'Every {{ $labels.collector }} call for {{ $labels.account }} has failed for 15 minutes: its metrics are stale or missing. See bybit_collector_failing for the reason.',
            },
          },
          {
            alert: 'BybitFieldsUnreadable',
            expr: 'last_over_time(%s[10m]) > 0' % series('bybit_invalid_fields'),
            'for': '15m',
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Bybit sends fields for {{ $labels.account }} that the exporter cannot read',
              description: "{{ $value }} field(s) of Bybit's last answer for {{ $labels.account }} ({{ with $labels.account_type }}{{ . }}{{ else }}{{ $labels.collector }}{{ end }}) could not be read for 15 minutes: their series are missing. The exporter's log names them.",
            },
          },
          {
            // Targets known to be Bybit exporters: those that exported bybit_exporter_build_info
            // in the last hour, and, for as long as they stay in service discovery (`up`
            // exists), those this rule remembered before (it reads its own previous result).
            // It sits with the alerts that need it, so that prometheusAlerts works alone.
            record: 'job_instance:bybit_exporter:known',
            expr: |||
              group by (job, instance) (last_over_time(%(info)s[1h]))
              or
              (job_instance:bybit_exporter:known and on (job, instance) %(up)s)
            ||| % { info: series('bybit_exporter_build_info'), up: series('up') },
          },
          {
            alert: 'BybitExporterDown',
            expr: '%s == 0 and on (job, instance) job_instance:bybit_exporter:known' % series('up'),
            'for': '2m',
            labels: { severity: 'critical' },
            annotations: {
              summary: 'The Bybit exporter {{ $labels.instance }} cannot be scraped',
              description: 'Prometheus has failed to scrape the Bybit exporter {{ $labels.instance }} (job {{ $labels.job }}) for 2 minutes: no alert about its accounts can fire or resolve meanwhile.',
            },
          },
          {
            alert: 'BybitExporterMissing',
            expr: |||
              group by (job, instance) (last_over_time(%(info)s[1h]))
              unless on (job, instance) %(up)s
              unless on (job) %(info)s
            ||| % { info: series('bybit_exporter_build_info'), up: series('up') },
            'for': '2m',
            labels: { severity: 'critical' },
            annotations: {
              summary: "The Bybit exporter {{ $labels.instance }} is gone from Prometheus' targets",
              description: '{{ $labels.instance }} (job {{ $labels.job }}) exported Bybit metrics within the last hour and is no longer a scrape target, and no other target of the job exports them: no alert about its accounts can fire or resolve meanwhile. This alert clears by itself an hour after the last scrape.',
            },
          },
        ],
      },
    ],
  },
}
