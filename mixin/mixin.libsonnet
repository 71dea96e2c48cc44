// The bybit-exporter monitoring mixin: _config (config.libsonnet), prometheusAlerts,
// prometheusRules and grafanaDashboards. Compile it with `.venv/bin/python -m mixin.build`.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'alerts/runbooks.libsonnet') +
(import 'rules/rules.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
