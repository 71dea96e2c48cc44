"""The monitoring mixin (mixin/): the committed dashboard and rule files are its compiled output,
its thresholds are the ones alerts_test.yml pins, a user's _config reaches every rule and panel,
and the dashboard passes a lint (datasource, selectors, ranges, units, ids, served metrics)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from exporter.service.catalogue import SERVED
from mixin import build
from tests.conftest import REPO
from tests.prom import binary

PROMETHEUS_DIR = REPO / "prometheus"


@pytest.fixture(scope="module")
def mixin():
    return build.evaluate()


def rules_of(mixin):
    return [rule for part in ("prometheusAlerts", "prometheusRules")
            for group in mixin[part]["groups"] for rule in group["rules"]]


def recorded(mixin):
    return {rule["record"] for rule in rules_of(mixin) if "record" in rule}


def dashboards(mixin):
    return mixin["grafanaDashboards"]


def panels(board):
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def queries(board):
    """(panel title, refId, expr) of every panel query."""
    return [(panel["title"], target["refId"], target["expr"])
            for panel in panels(board) for target in panel.get("targets", [])]


def variable_queries(board):
    """(variable name, series selector) of every query variable: label_values(<selector>, x)."""
    found = []
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"]["query"])
            assert match and match[2] == variable["name"], variable["query"]
            found.append((variable["name"], match[1]))
    return found


# --- reading PromQL without a parser: enough for the expressions of this mixin ---------------

SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)?\{([^{}]*)\}")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
            "bool", "offset"}


def selectors(expr):
    """(metric names, matchers text) of every braced selector; names from __name__=~"a|b"."""
    found = []
    for name, matchers in SELECTOR.findall(expr):
        names = [name] if name else []
        for regex in re.findall(r'__name__=~"([^"]*)"', matchers):
            names += regex.split("|")
        found.append((names, matchers))
    return found


def bare_series(expr):
    """Metric names written without braces, such as `up` in `up == 0`."""
    text = SELECTOR.sub(" ", expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"[A-Za-z_]\w*\s*\(", "(", text)  # function names
    return [word for word in re.findall(r"(?<![\w.$])[A-Za-z_:][\w:]*", text)
            if word not in KEYWORDS]


def series_names(expr):
    return [name for names, _ in selectors(expr) for name in names] + bare_series(expr)


def test_bare_series_and_selectors_are_read_right():
    expr = ('max by (job, instance) ({__name__=~"a_ratio|b_ratio", job="x"} or '
            'last_over_time(c{job="x"}[10m]) unless on (job) up == 1) >= 0.5 and time() - d')
    assert series_names(expr) == ["a_ratio", "b_ratio", "c", "up", "d"]
    assert bare_series('label_replace(x{a="b"}, "price", "last", "", "") * 86400') == []


# --- the compiled files ---------------------------------------------------------------------

def test_committed_files_are_the_compiled_mixin(mixin):
    files = build.render(mixin)
    assert set(files) >= {build.ALERTS, build.RULES, build.PROMETHEUS_RULE,
                          build.DASHBOARDS / "bybit.json"}
    assert build.stale(files) == [], f"run {build.COMMAND}"


def test_the_check_command_reports_drift(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mixin.build", "--check"], cwd=REPO,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    # A changed default is a difference the check sees.
    user = tmp_path / "changed.jsonnet"
    user.write_text("(import 'mixin/mixin.libsonnet') + "
                    "{ _config+:: { maintenanceMarginWarningRatio: 0.55 } }\n")
    assert build.ALERTS in build.stale(build.render(build.evaluate(user)))


def promtool(*args, cwd=PROMETHEUS_DIR):
    return subprocess.run([binary("promtool"), *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def test_compiled_rules_pass_promtool_check_and_unit_tests():
    result = promtool("check", "rules", "alerts.yml", "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == 2
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_prometheus_config_loads_both_rule_files():
    for config in PROMETHEUS_DIR.glob("prometheus*.yml"):
        rule_files = yaml.safe_load(config.read_text()).get("rule_files", [])
        assert "alerts.yml" in rule_files and "rules.yml" in rule_files, config.name


# Each threshold of _config and the alert whose unit tests pin it. Compiled with the default
# moved 10% either way, alerts_test.yml must fail: the unit tests check the thresholds that
# _config holds, so a changed default fails them until they are written for the new value.
PINNED = [
    ("maintenanceMarginWarningRatio", "BybitMaintenanceMarginHigh"),
    ("maintenanceMarginCriticalRatio", "BybitMaintenanceMarginCritical"),
    ("initialMarginExhaustedRatio", "BybitInitialMarginExhausted"),
    ("liquidationDistanceWarningRatio", "BybitPositionNearLiquidation"),
    ("liquidationDistanceCriticalRatio", "BybitPositionNearLiquidation"),
    ("apiKeyExpiryWarningDays", "BybitApiKeyExpiresSoon"),
    ("apiKeyExpiryCriticalDays", "BybitApiKeyExpiresSoon"),
    ("borrowRateYearlyWarningRatio", "BybitBorrowRateHigh"),
    ("borrowUsageWarningRatio", "BybitBorrowUsageHigh"),
]


def compile_into(tmp_path, overrides):
    user = tmp_path / "user.jsonnet"
    user.write_text("(import 'mixin/mixin.libsonnet') + { _config+:: %s }\n"
                    % json.dumps(overrides))
    mixin = build.evaluate(user)
    files = build.render(mixin)
    (tmp_path / "alerts.yml").write_text(files[build.ALERTS])
    (tmp_path / "rules.yml").write_text(files[build.RULES])
    return mixin


def unit_tests_about(alert, tmp_path):
    unit_tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    unit_tests["tests"] = [test for test in unit_tests["tests"]
                           if any(case["alertname"] == alert
                                  for case in test.get("alert_rule_test", []))]
    assert unit_tests["tests"], f"alerts_test.yml has no test about {alert}"
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(unit_tests, sort_keys=False))


@pytest.mark.parametrize("factor", [0.9, 1.1])
@pytest.mark.parametrize("key, alert", PINNED)
def test_moving_a_threshold_of_config_fails_the_unit_tests(key, alert, factor, mixin, tmp_path):
    moved = mixin["_config"][key] * factor
    compiled = compile_into(tmp_path, {key: moved})
    assert compiled["_config"][key] == moved
    unit_tests_about(alert, tmp_path)
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr, \
        f"alerts_test.yml still passes with {key} = {moved}"


@pytest.mark.parametrize("moved", [3, 5])
def test_moving_the_adl_rank_threshold_fails_the_unit_tests(moved, tmp_path):
    # ranks are whole numbers: moved a rank either way, not 10 %
    compile_into(tmp_path, {"adlRankWarning": moved})
    unit_tests_about("BybitPositionAdlRankHigh", tmp_path)
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


def alert_names(mixin):
    return [rule.get("alert") for rule in rules_of(mixin)]


def test_the_unprotected_alert_is_compiled_only_when_stops_are_required(mixin, tmp_path):
    assert "BybitPositionUnprotected" not in alert_names(mixin)
    required = compile_into(tmp_path, {"stopLossRequired": True})
    assert alert_names(required).count("BybitPositionUnprotected") == 1
    shutil.copy(PROMETHEUS_DIR / "stop_loss_required_test.yml", tmp_path)
    result = promtool("test", "rules", "stop_loss_required_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_greek_limits_are_compiled_only_where_a_desk_sets_them(mixin, tmp_path):
    assert "BybitOptionGreekLimit" not in alert_names(mixin)
    limited = compile_into(tmp_path, {"optionGreekLimits": {"BTC": {"delta": 5, "vega": 1000}}})
    rules = [rule for rule in rules_of(limited) if rule.get("alert") == "BybitOptionGreekLimit"]
    assert sorted(rule["labels"]["greek"] for rule in rules) == ["delta", "vega"]
    shutil.copy(PROMETHEUS_DIR / "greek_limits_test.yml", tmp_path)
    result = promtool("test", "rules", "greek_limits_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    moved = compile_into(tmp_path, {"optionGreekLimits": {"BTC": {"delta": 6, "vega": 1000}}})
    assert moved["_config"]["optionGreekLimits"]["BTC"]["delta"] == 6
    result = promtool("test", "rules", "greek_limits_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


@pytest.mark.parametrize("severity", ["", "critical"])
def test_the_withdrawal_alert_can_be_raised_or_turned_off(severity, tmp_path):
    compiled = compile_into(tmp_path, {"withdrawalAlertSeverity": severity})
    rules = [rule for rule in rules_of(compiled) if rule.get("alert") == "BybitWithdrawal"]
    assert [rule["labels"]["severity"] for rule in rules] == ([severity] if severity else [])


def test_unit_tests_pass_on_a_recompiled_default(tmp_path):
    # the control of the test above: the same steps without a change pass
    compile_into(tmp_path, {})
    unit_tests_about("BybitMaintenanceMarginHigh", tmp_path)
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- a user's own _config ---------------------------------------------------------------------

USER_CONFIG = """\
local bybit = import 'mixin/mixin.libsonnet';

bybit {
  _config+:: {
    selector: 'job="x"',
    maintenanceMarginWarningRatio: 0.6,
    maintenanceMarginCriticalRatio: 0.9,
    runbookUrlPattern: 'https://wiki.example/bybit/%s',
    dashboardUid: 'my-bybit',
  },
}
"""


@pytest.fixture(scope="module")
def overridden(tmp_path_factory):
    user = tmp_path_factory.mktemp("user") / "monitoring.jsonnet"
    user.write_text(USER_CONFIG)
    return build.evaluate(user)


def test_a_users_selector_reaches_every_rule_and_panel_query(overridden):
    recordings = recorded(overridden)
    exprs = [(rule.get("alert") or rule["record"], rule["expr"]) for rule in rules_of(overridden)]
    for board in dashboards(overridden).values():
        exprs += [(f"{title} {ref}", expr) for title, ref, expr in queries(board)]
        exprs += [(f"variable {name}", expr) for name, expr in variable_queries(board)]
    for where, expr in exprs:
        found = selectors(expr)
        assert found, (where, expr)
        for names, matchers in found:
            assert 'job="x"' in matchers, (where, expr)
        # only recording rules' own results may be read without the selector
        assert set(bare_series(expr)) <= recordings, (where, expr)


def test_a_users_thresholds_reach_the_alerts_and_the_dashboard(overridden, tmp_path):
    alerts = {rule["alert"]: rule for rule in rules_of(overridden) if "alert" in rule}
    assert alerts["BybitMaintenanceMarginHigh"]["expr"].rstrip().endswith(">= 0.6")
    assert alerts["BybitMaintenanceMarginCritical"]["expr"].rstrip().endswith(">= 0.9")
    assert "60%" in alerts["BybitMaintenanceMarginHigh"]["annotations"]["summary"]
    for rule in alerts.values():
        assert rule["annotations"]["runbook_url"].startswith("https://wiki.example/bybit/")
    (board,) = dashboards(overridden).values()
    assert board["uid"] == "my-bybit"
    gauges = {p["title"]: p for p in panels(board)}
    steps = gauges["Maintenance margin rate"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 0.6, 0.9]
    assert "(60%)" in gauges["Maintenance margin rate"]["description"]
    files = build.render(overridden)
    for path in (build.ALERTS, build.RULES):
        (tmp_path / path.name).write_text(files[path])
    result = promtool("check", "rules", "alerts.yml", "rules.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the dashboard lint -------------------------------------------------------------------------

# Queries whose range is fixed on purpose instead of $__rate_interval: (panel, refId) -> why.
PER_DAY = "a rolling 24 hours: what was made or paid today, not a rate"
FIXED_RANGES: dict[tuple[str, str], str] = {
    (title, ref): PER_DAY for title, refs in (
        ("Trading fees per day", "AB"), ("Funding per day", "AB"),
        ("Borrow interest per day", "A"), ("Realised PnL per day", "AB"),
        ("Transfers, deposits and withdrawals per day", "ABCD")) for ref in refs}


def served_names():
    return {family.name for family in SERVED}


def lint(board, allowed_series):
    """Every problem of the dashboard, as text."""
    problems = []
    ids = [panel["id"] for panel in board["panels"]]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids repeat: {sorted(ids)}")
    for panel in panels(board):
        title = panel["title"]
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{title}: panel datasource is not $datasource")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{title}: no unit")
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"{title} {target['refId']}: query datasource is not $datasource")
    for title, ref, expr in queries(board):
        where = f"{title} {ref}"
        for names, matchers in selectors(expr):
            if 'job=~"$job"' not in matchers:
                problems.append(f"{where}: a selector lacks job: {expr}")
            if 'instance=~"$instance"' not in matchers:
                problems.append(f"{where}: a selector lacks instance: {expr}")
        for name in bare_series(expr):
            problems.append(f"{where}: {name} without the job and instance selectors")
    earlier = []  # each variable lists the values left by those before it
    for name, expr in variable_queries(board):
        for variable in earlier:
            if not all(f'{variable}=~"${variable}"' in matchers for _, matchers in selectors(expr)):
                problems.append(f"variable {name}: not filtered by ${variable}: {expr}")
        earlier.append(name)
    every_query = [(f"{t} {r}", (t, r), e) for t, r, e in queries(board)]
    every_query += [(f"variable {n}", (n, ""), e) for n, e in variable_queries(board)]
    for where, (title, ref), expr in every_query:
        for name in series_names(expr):
            if name not in allowed_series:
                problems.append(f"{where}: {name} is neither served nor recorded")
        for window in re.findall(r"\[([^\]]*)\]", expr):
            if window != "$__rate_interval" and (title, ref) not in FIXED_RANGES:
                problems.append(f"{where}: range [{window}] is not $__rate_interval")
    return problems


def allowed_series(mixin):
    # what Prometheus has: the exporter's families (counters are served under their _total
    # names, and it serves no histogram), the series the rules record, and `up`
    return served_names() | recorded(mixin) | {"up"}


def test_dashboards_pass_the_lint(mixin):
    for name, board in dashboards(mixin).items():
        assert lint(board, allowed_series(mixin)) == [], name
    assert all(reason.strip() for reason in FIXED_RANGES.values())


def test_the_lint_finds_each_kind_of_problem(mixin):
    board = copy.deepcopy(dashboards(mixin)["bybit.json"])
    first, second = panels(board)[:2]
    second["id"] = first["id"]
    first["datasource"] = {"type": "prometheus", "uid": "prometheus"}
    del first["fieldConfig"]["defaults"]["unit"]
    first["targets"][0]["expr"] = ('rate(bybit_poll_errors_total{job=~"$job"}[5m]) + '
                                   'bybit_no_such_metric{job=~"$job", instance=~"$instance"} + up')
    problems = "\n".join(lint(board, allowed_series(mixin)))
    for expected in ("panel ids repeat", "panel datasource is not $datasource", "no unit",
                     "a selector lacks instance", "up without the job and instance selectors",
                     "bybit_no_such_metric is neither served nor recorded",
                     "range [5m] is not $__rate_interval"):
        assert expected in problems, expected


def test_dashboard_reads_the_recording_rules(mixin):
    exprs = " ".join(expr for board in dashboards(mixin).values()
                     for _, _, expr in queries(board))
    rules = [rule for group in mixin["prometheusRules"]["groups"] for rule in group["rules"]]
    # every recording rule is read by a panel, or by another rule (a step of a panel's rule)
    readers = exprs + " ".join(rule["expr"] for rule in rules)
    assert rules and all(rule["record"] in readers for rule in rules)
    assert all(name in exprs for name in ("account:bybit_account_equity_usd:sum",
                                          "account:bybit_trading_pnl_usd:increase1d"))
