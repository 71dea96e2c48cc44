local g = import '../../lib/grafana.libsonnet';
local promql = import '../../lib/promql.libsonnet';

{
  local config = $._config,
  local s = g.series(config),
  local upMappings = g.booleanMappings(['DOWN', 'red'], ['UP', 'green']),
  local upSteps = g.thresholds([['red', null], ['green', 1]]),

  bybitDashboardRows+:: [
    g.row('Exporter health', [
      g.stat(
        'Up',
        'bybit_up: 1 if the last poll of the account type succeeded.',
        'none',
        [g.query(s.wallet('bybit_up'), '{{account}} {{account_type}}')],
        h=8,
      ) { fieldConfig+: { defaults+: { mappings: upMappings, thresholds: upSteps } } },
      g.timeseries(
        'Age of the last successful poll',
        'Seconds since the last successful poll; BybitDataStale fires past %s poll intervals.' % promql.number(config.staleAfterPollIntervals),
        's',
        [g.query('time() - %s' % s.wallet('bybit_last_success_timestamp_seconds'), '{{account}} {{account_type}}')],
        w=6,
      ),
      g.timeseries(
        'Poll errors by reason',
        'Failed polls per interval, by reason (timeout, network, http, invalid_response, rate_limit, auth, clock, api).',
        'short',
        [g.query('sum by (account, reason) (increase(%s[$__rate_interval]))' % s.wallet('bybit_poll_errors_total'), '{{account}} {{reason}}')],
        w=6,
      ) { fieldConfig+: { defaults+: { custom+: { drawStyle: 'bars', fillOpacity: 80 } } } },
      g.timeseries(
        'Poll duration',
        'Duration of the last poll of each account type.',
        's',
        [g.query(s.wallet('bybit_poll_duration_seconds'), '{{account}} {{account_type}}')],
        w=6,
      ),
      g.stat(
        'Collectors and unreadable fields',
        "bybit_collector_up per account and collector (UP if its last call succeeded), and per account the number of fields of Bybit's last answers that could not be read (bybit_invalid_fields, recorded by account:bybit_invalid_fields:sum): their series are missing.",
        'none',
        [
          g.query(s.account('bybit_collector_up'), '{{account}} {{collector}}'),
          g.query(s.account('account:bybit_invalid_fields:sum'), '{{account}} unreadable fields'),
        ],
        w=24,
        h=8,
      ) {
        fieldConfig+: {
          defaults+: { mappings: upMappings, thresholds: upSteps },
          overrides: [{
            matcher: { id: 'byFrameRefID', options: 'B' },
            properties: [
              { id: 'mappings', value: [] },
              { id: 'thresholds', value: g.thresholds([['green', null], ['orange', 1]]) },
            ],
          }],
        },
      },
    ]),
  ],
}
