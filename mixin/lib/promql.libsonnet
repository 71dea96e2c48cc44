// Small helpers to write PromQL from _config.
{
  // `name{m1, m2}` from the matchers that are not empty; the bare name when none is left, so
  // that an empty selector leaves the expressions as a person would write them.
  metric(name, matchers)::
    local kept = std.filter(function(m) m != '', matchers);
    if kept == [] then name else '%s{%s}' % [name, std.join(', ', kept)],

  // A threshold as a person writes it: 0.1, not jsonnet's 0.10000000000000001.
  number(x):: if x == std.floor(x) then '%d' % x else '%g' % x,

  // 0.5 -> "50%", as Prometheus' humanizePercentage prints it.
  percent(x):: self.number(x * 100) + '%',

  // A Prometheus duration such as '30m' or '1h', in seconds.
  seconds(duration)::
    local unit = duration[std.length(duration) - 1];
    std.parseInt(duration[:std.length(duration) - 1]) * { s: 1, m: 60, h: 3600, d: 86400 }[unit],

  // `selector`, or, while `up` (the selector of a collector's bybit_collector_up) is not 1, the
  // last value seen in the hold window: an exporter that went away resolves nothing.
  held(selector, up)::
    '(%(s)s or (last_over_time(%(s)s[10m]) unless on (job, instance, account) %(up)s == 1))'
    % { s: selector, up: up },
}
