// Everything a user may want to change, in one place. Override it from your own jsonnet:
//
//   (import 'bybit-exporter/mixin/mixin.libsonnet') + {
//     _config+:: { selector: 'job="crypto"', maintenanceMarginWarningRatio: 0.6 },
//   }
//
// or edit the defaults below and run `.venv/bin/python -m mixin.build`.
{
  _config+:: {
    // Matchers added to every series selector of the rules and the dashboard, such as
    // 'job="crypto"' or 'cluster="eu", job=~"bybit.*"'. Empty: any target exporting bybit_*
    // series. Nothing else names a job: the rules recognise an exporter by the series it exports.
    selector: '',

    // Margin (ratios: 1 is 100%; Bybit liquidates at a maintenance margin rate of 1).
    maintenanceMarginWarningRatio: 0.5,  // BybitMaintenanceMarginHigh
    maintenanceMarginCriticalRatio: 0.8,  // BybitMaintenanceMarginCritical
    initialMarginExhaustedRatio: 0.95,  // BybitInitialMarginExhausted
    // BybitMaintenanceMarginRising: the trend of the last `window`, projected `horizon` ahead,
    // reaches liquidation.
    marginRisingWindow: '30m',
    marginRisingHorizon: '1h',

    // Positions: distance from the mark price to the liquidation price, as a share of the mark.
    liquidationDistanceWarningRatio: 0.10,  // BybitPositionNearLiquidation, warning
    liquidationDistanceCriticalRatio: 0.05,  // BybitPositionNearLiquidation, critical

    // What stands between a position and its liquidation.
    adlRankWarning: 4,  // BybitPositionAdlRankHigh: ADL rank (1-5) at or above this for 5 minutes
    // BybitPositionUnprotected (stop coverage below 1 for `stopCoverageFor`) is compiled only
    // when true: many traders run without stops on purpose.
    stopLossRequired: false,
    stopCoverageFor: '10m',
    borrowRateYearlyWarningRatio: 0.5,  // BybitBorrowRateHigh: hourly rate x 24 x 365 above this
    borrowUsageWarningRatio: 0.9,  // BybitBorrowUsageHigh
    // BybitWithdrawal: a completed withdrawal within the window, at this severity ('' leaves the
    // alert out). A stolen key's first act is a withdrawal.
    withdrawalAlertSeverity: 'info',
    withdrawalWindow: '15m',

    // Options desks. BybitOptionGreekLimit: per base coin, the largest absolute delta and vega
    // (or gamma, theta) the account's options may have, e.g. { BTC: { delta: 25, vega: 5000 } };
    // empty: no such alert.
    optionGreekLimits: {},
    optionGreekLimitFor: '5m',

    // API keys: days before expiry.
    apiKeyExpiryWarningDays: 14,  // BybitApiKeyExpiresSoon, warning
    apiKeyExpiryCriticalDays: 3,  // BybitApiKeyExpiresSoon, critical

    // Exporter health.
    staleAfterPollIntervals: 3,  // BybitDataStale: last success older than this many intervals
    rateLimitedPolls: 3,  // BybitRateLimited: this many rate-limited polls ...
    rateLimitedWindow: '10m',  // ... within this window

    // Each alert's runbook_url: this pattern with the alert's name in lower case in place of %s
    // (bybitexporterdown, ...), the anchor of its section in docs/runbooks.md. Point it at your
    // own copy of the runbooks or your wiki.
    runbookUrlPattern: 'https://github.com/bybit-exporter/bybit-exporter/blob/main/docs/runbooks.md#%s',

    // Grafana.
    dashboardUid: 'bybit-exporter',
    dashboardTitle: 'Bybit accounts',
    dashboardTags: ['bybit', 'prometheus'],
    dashboardRefresh: '30s',
    dashboardTimezone: 'browser',
  },
}
