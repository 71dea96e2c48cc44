// Grafana dashboard JSON, without grafonnet: the few panel kinds the dashboard uses. A panel
// gives its width and height; `dashboard` lays the rows out, numbers the panels and names the
// queries' refIds.
local promql = import 'promql.libsonnet';

local datasource = { type: 'prometheus', uid: '${datasource}' };

local legend = {
  legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull'] },
  tooltip: { mode: 'multi', sort: 'desc' },
};

local reduce = { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } };

local panel(type, title, description, unit, targets, w, h) = {
  type: type,
  title: title,
  description: description,
  datasource: datasource,
  gridPos: { w: w, h: h },
  targets: std.mapWithIndex(function(i, t) t { refId: std.char(65 + i) }, targets),
  fieldConfig: { defaults: { unit: unit }, overrides: [] },
};

{
  // Series selectors of the dashboard: _config.selector, the variables, then `matchers`.
  // `account` for every series of an account; `wallet` for the wallet-balance poll's series,
  // which the account_type variable filters too.
  series(config):: {
    account(name, matchers=[])::
      promql.metric(name, [config.selector, 'job=~"$job"', 'instance=~"$instance"',
                           'account=~"$account"'] + matchers),
    wallet(name, matchers=[]):: self.account(name, ['account_type=~"$account_type"'] + matchers),
  },

  // A query drawn over time, and one read once into a table.
  query(expr, legendFormat):: { datasource: datasource, expr: expr, legendFormat: legendFormat, range: true },
  tableQuery(expr):: { datasource: datasource, expr: expr, legendFormat: '', format: 'table', instant: true, range: false },

  // Threshold steps from [color, value] pairs; the first value is null (the base colour).
  thresholds(steps):: {
    mode: 'absolute',
    steps: [{ color: s[0], value: s[1] } for s in steps],
  },
  // A stat's texts and colours for 0 and 1.
  booleanMappings(zero, one):: [{
    type: 'value',
    options: {
      '0': { text: zero[0], color: zero[1], index: 0 },
      '1': { text: one[0], color: one[1], index: 1 },
    },
  }],

  row(title, panels):: { title: title, panels: panels },

  timeseries(title, description, unit, targets, w=12, h=8)::
    panel('timeseries', title, description, unit, targets, w, h) {
      fieldConfig+: { defaults+: { custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10, showPoints: 'never', spanNulls: false } } },
      options: legend,
    },

  gauge(title, description, unit, targets, w=6, h=8)::
    panel('gauge', title, description, unit, targets, w, h) {
      options: reduce { showThresholdLabels: false, showThresholdMarkers: true, orientation: 'auto' },
    },

  stat(title, description, unit, targets, w=6, h=6)::
    panel('stat', title, description, unit, targets, w, h) {
      fieldConfig+: { defaults+: { color: { mode: 'thresholds' } } },
      options: reduce { colorMode: 'background', graphMode: 'none', textMode: 'value_and_name', orientation: 'auto', justifyMode: 'auto' },
    },

  table(title, description, unit, targets, w=24, h=9)::
    panel('table', title, description, unit, targets, w, h) {
      fieldConfig+: { defaults+: { custom: { align: 'auto', cellOptions: { type: 'auto' } } } },
      options: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], countRows: false, fields: '' } },
    },

  // A table's instant queries merged into one row per series: `columns` are [query, column name]
  // pairs (query i answers as "Value #<A+i>"), `order` puts the label columns first, `hidden`
  // names more fields to leave out. Use it as the table's transformations.
  mergedColumns(columns, order, hidden=[]):: [
    { id: 'merge', options: {} },
    {
      id: 'organize',
      options: {
        excludeByName: { Time: true, job: true, instance: true, __name__: true } + { [h]: true for h in hidden },
        indexByName: order,
        renameByName: { ['Value #' + std.char(65 + i)]: columns[i][1] for i in std.range(0, std.length(columns) - 1) },
      },
    },
  ],

  // A query variable over label values, filtered by the variables before it.
  local variable(name, label, query) = {
    type: 'query',
    name: name,
    label: label,
    datasource: datasource,
    query: { query: query, refId: name + '-query', qryType: 1 },
    refresh: 2,
    multi: true,
    includeAll: true,
    allValue: '.*',
    sort: 1,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    hide: 0,
    regex: '',
    skipUrlSync: false,
  },

  // The rows flow left to right, 24 units wide; each row starts a new line. Panel ids follow
  // the order of the rows and panels.
  local layout(rows) =
    local place(state, panel) =
      local wraps = state.x + panel.gridPos.w > 24;
      local x = if wraps then 0 else state.x;
      local y = if wraps then state.y + state.h else state.y;
      local h = if wraps then panel.gridPos.h else std.max(state.h, panel.gridPos.h);
      { x: x + panel.gridPos.w, y: y, h: h,
        panels: state.panels + [panel { gridPos+: { x: x, y: y } }] };
    local addRow(state, row) =
      local top = state.y + state.h;
      local header = { type: 'row', title: row.title, collapsed: false, panels: [],
                       gridPos: { h: 1, w: 24, x: 0, y: top } };
      local placed = std.foldl(place, row.panels, { x: 0, y: top + 1, h: 0, panels: [] });
      { y: placed.y, h: placed.h, panels: state.panels + [header] + placed.panels };
    local all = std.foldl(addRow, rows, { y: 0, h: 0, panels: [] }).panels;
    std.mapWithIndex(function(i, p) p { id: i + 1 }, all),

  dashboard(config, description, rows):: {
    uid: config.dashboardUid,
    title: config.dashboardTitle,
    description: description,
    tags: config.dashboardTags,
    timezone: config.dashboardTimezone,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 2,
    refresh: config.dashboardRefresh,
    time: { from: 'now-6h', to: 'now' },
    timepicker: { refresh_intervals: ['10s', '30s', '1m', '5m', '15m'] },
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    links: [],
    annotations: { list: [{ datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
    templating: { list: [
      { type: 'datasource', name: 'datasource', label: 'Data source', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', skipUrlSync: false, includeAll: false, multi: false, options: [] },
      variable('job', 'Job', 'label_values(%s, job)' % promql.metric('bybit_exporter_build_info', [config.selector])),
      variable('instance', 'Instance', 'label_values(%s, instance)' % promql.metric('bybit_exporter_build_info', [config.selector, 'job=~"$job"'])),
      variable('account', 'Account', 'label_values(%s, account)' % promql.metric('bybit_up', [config.selector, 'job=~"$job"', 'instance=~"$instance"'])),
      variable('account_type', 'Account type', 'label_values(%s, account_type)' % promql.metric('bybit_up', [config.selector, 'job=~"$job"', 'instance=~"$instance"', 'account=~"$account"'])),
    ] },
    panels: layout(rows),
  },
}
