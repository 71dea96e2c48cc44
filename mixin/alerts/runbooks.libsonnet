// Every alert's runbook_url, set in one place: _config.runbookUrlPattern with the alert's name in
// lower case, which is the anchor GitHub gives the alert's section (`### BybitExporterDown`) in
// docs/runbooks.md. An alert added to any group gets its URL here; tests/test_links.py fails
// until docs/runbooks.md has its section. Merged after every alert group (mixin.libsonnet).
{
  local config = $._config,
  local withRunbook(rule) =
    if std.objectHas(rule, 'alert')
    then rule { annotations+: { runbook_url: config.runbookUrlPattern % std.asciiLower(rule.alert) } }
    else rule,

  prometheusAlerts+:: {
    groups: [
      group { rules: std.map(withRunbook, group.rules) }
      for group in super.groups
    ],
  },
}
