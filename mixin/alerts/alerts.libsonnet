// The alerts, one group per file; Prometheus >= 2.42 (keep_firing_for). Proven by
// prometheus/alerts_test.yml (`promtool test rules alerts_test.yml`, run by the test suite).
//
// Liquidation happens when the maintenance margin rate reaches 1.0 (100%). Both the last-price
// rate (accountMMRate) and the mark-price rate (accountMMRateByMp) count: the higher one is used.
//
// Exporter down: while Prometheus cannot see an account, no alert may claim that it is safe.
// - No job name anywhere (_config.selector is empty by default): users name their scrape jobs. A
//   target is known as a Bybit exporter because it exported bybit_exporter_build_info; the
//   recording rule job_instance:bybit_exporter:known remembers it for as long as the target
//   stays in service discovery (`up` exists). BybitExporterDown: such a target has `up` 0.
//   BybitExporterMissing: such a target left service discovery, and no other target of its job
//   exports bybit metrics (a pod rescheduled under a new address is not an outage); it clears by
//   itself an hour after the last scrape.
// - Every per-account alert keeps the `job` and `instance` labels, so that Alertmanager mutes it
//   while BybitExporterDown or BybitExporterMissing fires for its target (alertmanager.yml,
//   inhibit_rules). Muting covers firing AND resolved notifications: the receiver's last word on
//   an account stays what it was when the exporter went away.
// - Alertmanager can only mute a resolution once BybitExporterDown fires (after 2m), so the
//   per-account alerts must not resolve before: when their data goes missing they hold the last
//   value seen for 10 minutes (last_over_time(...[10m]) reads through staleness markers). The
//   margin, position and auth alerts hold only while their source is not known good (target
//   down or gone, or bybit_up / bybit_collector_up not 1): a closed position clears at once.
// - BybitMaintenanceMarginRising predicts only from fresh data (bybit_up == 1), and
//   BybitDataStale reads the plain series (a held timestamp grows old as time goes on): neither
//   starts firing on a dead exporter's last samples. Once firing they hold 10 minutes
//   (keep_firing_for), like the others.
// - BybitPollsFailing and BybitCollectorFailing{collector="positions"} likewise mute the margin
//   and position alerts of their account: those are blind too.
// Limits: after an outage longer than the 10-minute hold, the per-account alerts have resolved
// in Prometheus (muted in Alertmanager); those still true go through their `for` again once data
// is back, and Alertmanager may deliver the muted resolution in between if the outage lasted
// less than about 25 minutes (Prometheus resends a resolution for 15 minutes). A target that
// never exported bybit metrics is unknown to these rules: check a new deployment once. A job
// that loses one of several targets to service discovery raises nothing.
(import 'margin.libsonnet') +
(import 'protection.libsonnet') +
(import 'options.libsonnet') +
(import 'api_key.libsonnet') +
(import 'exporter.libsonnet')
