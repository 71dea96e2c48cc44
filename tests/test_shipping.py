"""What ships beside the exporter: alert and recording rules, Prometheus and Alertmanager configs,
the Grafana dashboard and its provisioning, proven with promtool, amtool, a real Alertmanager,
Grafana's own schema and a real Prometheus. The rules and the dashboard are compiled from mixin/
(tests/test_mixin.py checks the compilation, the thresholds of _config and the dashboard lint)."""

import json
import os
import re
import shutil
import subprocess
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import yaml

from mixin import build
from exporter.bybit.endpoints import wallet
from exporter.metrics.family import WALLET_HEALTH
from tests.conftest import REPO, free_port, wait_for
from tests.prom import Prometheus, binary

DASHBOARD = REPO / "grafana" / "dashboards" / "bybit.json"
PROMETHEUS_DIR = REPO / "prometheus"


def tool(*names):
    """The first of `names` on PATH: Debian calls Alertmanager `prometheus-alertmanager`."""
    for name in names:
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI"):
        pytest.fail(f"{names[0]} is missing: .ci/run must install Debian's prometheus-alertmanager")
    pytest.skip(f"{names[0]} not installed (apt-get install prometheus-alertmanager)")


def run(command, *args):
    result = subprocess.run([command, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def promtool(*args):
    return run(binary("promtool"), *args)


def all_rules():
    return [rule for name in ("alerts.yml", "rules.yml")
            for group in yaml.safe_load((PROMETHEUS_DIR / name).read_text())["groups"]
            for rule in group["rules"]]


def alerting_rules():
    return [rule for rule in all_rules() if "alert" in rule]


def test_rules_are_clean_and_their_unit_tests_pass():
    alerts = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    count = sum(len(group["rules"]) for group in alerts)
    assert f"SUCCESS: {count} rules found" in promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in promtool("check", "rules", "rules.yml")
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_prometheus_configs_are_valid(config):
    assert "is valid prometheus config file syntax" in promtool("check", "config", config)


def test_alertmanager_config_is_valid():
    output = run(tool("amtool"), "check-config", "alertmanager.yml")
    assert "SUCCESS" in output and "inhibit rules" in output, output


def test_every_alert_has_severity_labels_and_annotations():
    # that each runbook_url leads to the alert's section: tests/test_links.py
    for rule in alerting_rules():
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        assert "runbook" not in rule["annotations"], rule["alert"]
        if "ratio" in rule["expr"] and "predict" not in rule["expr"]:
            assert "humanizePercentage" in rule["annotations"]["description"], rule["alert"]


def test_no_rule_or_dashboard_query_depends_on_the_job_name():
    exprs = [rule["expr"] for rule in all_rules()]
    exprs += [target["expr"] for target in targets(dashboard())]
    for expr in exprs:
        assert not re.search(r'\bjob\s*(=|!=|=~|!~)\s*"(?!\$job")', expr), expr


def test_per_account_alerts_keep_job_and_instance_for_inhibition():
    # Alertmanager mutes them while BybitExporterDown fires: it needs equal job and instance.
    for rule in alerting_rules():
        assert "without" not in rule["expr"], rule["alert"]
        for grouping in re.findall(r"\bby\s*\(([^)]*)\)", rule["expr"]):
            labels = {label.strip() for label in grouping.split(",")}
            assert {"job", "instance"} <= labels, (rule["alert"], grouping)


# Every part of the exporter-down design taken out, and the fixed levels nudged, must fail
# alerts_test.yml: the tests pin them. (The thresholds of mixin/config.libsonnet are moved
# through _config by tests/test_mixin.py.) Expressions are compared with whitespace collapsed;
# `after` None removes the rule's key `before`.
MUTATIONS = [
    ("BybitMaintenanceMarginRising", ">= 1", ">= 0.9"),  # liquidation is at 100%
    ("BybitMaintenanceMarginRising", ">= 1", ">= 1.1"),
    ("BybitApiKeyNotReadOnly", "== 0", "== 1"),
    ("BybitFieldsUnreadable", "> 0", "> 1"),
    # margin alerts hold their last value while the account is not known good ...
    ("BybitMaintenanceMarginCritical", "unless on (job, instance, account, account_type) bybit_up",
     "and on (job, instance, account, account_type) bybit_up"),
    # ... positions too, but a closed position clears at once
    ("BybitPositionNearLiquidation", 'unless on (job, instance, account) bybit_collector_up{',
     'and on (job, instance, account) bybit_collector_up{'),
    ("BybitPositionNearLiquidation", 'bybit_collector_up{collector="positions"} == 1',
     'bybit_collector_up{collector="positions"} == 7'),
    # the trend is only read from fresh data
    ("BybitMaintenanceMarginRising", "and bybit_account_maintenance_margin_ratio,",
     "or bybit_account_maintenance_margin_ratio,"),
    ("BybitMaintenanceMarginRising", "and on (job, instance, account, account_type) bybit_up == 1",
     "or on (job, instance, account, account_type) bybit_up == 7"),
    # an exporter stays known while it is down, past bybit_exporter_build_info's last hour
    ("BybitExporterDown", "and on (job, instance) job_instance:bybit_exporter:known",
     "and on (job, instance) last_over_time(bybit_exporter_build_info[1h])"),
    ("BybitExporterDown", "up == 0 and", "up == 0 or"),
    # a pod rescheduled under a new address is not missing
    ("BybitExporterMissing", "unless on (job) bybit_exporter_build_info",
     "unless on (job) no_such_metric"),
    # a dead exporter's last timestamp does not make every account stale ...
    ("BybitDataStale",
     "(time() - bybit_last_success_timestamp_seconds) > 3 * bybit_poll_interval_seconds",
     ("(time() - last_over_time(bybit_last_success_timestamp_seconds[10m]))"
      " > 3 * last_over_time(bybit_poll_interval_seconds[10m])")),
    # ... but a firing trend or staleness outlasts BybitExporterDown's `for` (None: key removed)
    ("BybitDataStale", "keep_firing_for", None),
    ("BybitMaintenanceMarginRising", "keep_firing_for", None),
]


@pytest.mark.parametrize("alert, before, after", MUTATIONS)
def test_changing_a_threshold_or_the_design_fails_the_unit_tests(alert, before, after, tmp_path):
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    changed = 0
    for rule in (rule for group in rules["groups"] for rule in group["rules"]):
        expr = re.sub(r"\s+", " ", rule.get("expr", ""))
        if rule.get("alert") == alert and after is None and before in rule:
            del rule[before]
            changed += 1
        elif rule.get("alert") == alert and after is not None and before in expr:
            rule["expr"] = expr.replace(before, after)
            changed += 1
    assert changed, f"{before!r} is not in {alert}'s expression any more"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    unit_tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    unit_tests["tests"] = [test for test in unit_tests["tests"]  # only those about this alert
                           if any(case["alertname"] == alert
                                  for case in test.get("alert_rule_test", []))]
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(unit_tests, sort_keys=False))
    result = subprocess.run([binary("promtool"), "test", "rules", "alerts_test.yml"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr, \
        f"alerts_test.yml still passes with {alert}: {before!r} -> {after!r}"


class Webhook:
    """Records Alertmanager's webhook notifications: (status, alertname, account) per alert."""

    def __init__(self):
        self.received = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.extend((alert["status"], alert["labels"]["alertname"],
                                 alert["labels"].get("account")) for alert in body["alerts"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def alertmanager(tmp_path):
    """A real Alertmanager with the shipped inhibit rules, notifying a local webhook at once."""
    config = yaml.safe_load((PROMETHEUS_DIR / "alertmanager.yml").read_text())
    webhook = Webhook()
    config["route"].update(group_wait="0s", group_interval="1s")
    config["receivers"] = [{"name": config["route"]["receiver"],
                            "webhook_configs": [{"url": webhook.url, "send_resolved": True}]}]
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [tool("alertmanager", "prometheus-alertmanager"),
         f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address=", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: requests.get(url + "/-/ready", timeout=2).status_code == 200, timeout=30)
        yield url, webhook
    finally:
        process.terminate()
        process.wait(10)
        webhook.server.shutdown()


def post_alerts(url, *alerts, resolved=False):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = [{"labels": labels, "annotations": {}, **({"endsAt": now} if resolved else {})}
            for labels in alerts]
    requests.post(url + "/api/v2/alerts", json=body, timeout=5).raise_for_status()


def test_alertmanager_mutes_alerts_about_accounts_it_cannot_see(alertmanager):
    url, webhook = alertmanager
    target = {"job": "crypto", "instance": "x:10788"}
    hot = {"alertname": "BybitMaintenanceMarginCritical", "severity": "critical", **target,
           "account": "hot", "account_type": "UNIFIED"}
    elsewhere = dict(hot, instance="y:10788", account="elsewhere")
    post_alerts(url, hot, elsewhere)
    wait_for(lambda: {("firing", "BybitMaintenanceMarginCritical", "hot"),
                      ("firing", "BybitMaintenanceMarginCritical", "elsewhere")}
             <= set(webhook.received))

    # The exporter of x dies: BybitExporterDown fires, then the margin alerts resolve.
    post_alerts(url, {"alertname": "BybitExporterDown", "severity": "critical", **target})
    wait_for(lambda: ("firing", "BybitExporterDown", None) in webhook.received)
    post_alerts(url, hot, elsewhere, resolved=True)
    wait_for(lambda: ("resolved", "BybitMaintenanceMarginCritical", "elsewhere")
             in webhook.received)
    time.sleep(2)  # a few more group intervals
    assert ("resolved", "BybitMaintenanceMarginCritical", "hot") not in webhook.received

    # Everything about an account of x is muted, nothing of other targets; critical mutes warning.
    position = {"alertname": "BybitPositionNearLiquidation", "job": "k8s", "instance": "z:10788",
                "account": "a", "category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                "position_idx": "0"}
    post_alerts(url,
                {"alertname": "BybitPollsFailing", "severity": "critical", **target, "account": "a",
                 "account_type": "UNIFIED"},
                {"alertname": "BybitApiKeyExpiresSoon", "severity": "warning", **target,
                 "account": "a"},
                {"alertname": "BybitApiKeyExpiresSoon", "severity": "warning", "job": "crypto",
                 "instance": "y:10788", "account": "b"},
                {"alertname": "BybitApiKeyExpiresSoon", "severity": "critical", "job": "crypto",
                 "instance": "y:10788", "account": "c"},
                {"alertname": "BybitApiKeyExpiresSoon", "severity": "warning", "job": "crypto",
                 "instance": "y:10788", "account": "c"},
                dict(position, severity="critical"),
                dict(position, severity="warning", symbol="ETHUSDT"),
                {"alertname": "BybitExporterMissing", "severity": "critical", "job": "k8s",
                 "instance": "z:10788"})

    def states():
        alerts = requests.get(url + "/api/v2/alerts", timeout=5).json()
        return {(a["labels"]["alertname"], a["labels"].get("instance"), a["labels"].get("account"),
                 a["labels"].get("symbol"), a["labels"]["severity"]): a["status"]["state"]
                for a in alerts}

    expected = {
        ("BybitExporterDown", "x:10788", None, None, "critical"): "active",
        ("BybitExporterMissing", "z:10788", None, None, "critical"): "active",
        ("BybitPollsFailing", "x:10788", "a", None, "critical"): "suppressed",
        ("BybitApiKeyExpiresSoon", "x:10788", "a", None, "warning"): "suppressed",
        ("BybitApiKeyExpiresSoon", "y:10788", "b", None, "warning"): "active",
        ("BybitApiKeyExpiresSoon", "y:10788", "c", None, "critical"): "active",
        ("BybitApiKeyExpiresSoon", "y:10788", "c", None, "warning"): "suppressed",
        ("BybitPositionNearLiquidation", "z:10788", "a", "BTCUSDT", "critical"): "suppressed",
        ("BybitPositionNearLiquidation", "z:10788", "a", "ETHUSDT", "warning"): "suppressed",
    }
    wait_for(lambda: states() == expected)


def dashboard():
    return json.loads(DASHBOARD.read_text())


def targets(board):
    return [target for panel in board["panels"] for target in panel.get("targets", [])]


# Metrics of the wallet-balance poll (labelled account_type) besides the per-coin FUND ones.
WALLET_BALANCE = {family.name for family in (*wallet.ENDPOINT.families, *WALLET_HEALTH.all())}


def test_dashboard_variables_and_datasource():
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "instance", "account", "account_type"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance", "account", "account_type"):
        assert variables[name]["multi"] and variables[name]["includeAll"], name
        assert variables[name]["datasource"]["uid"] == "${datasource}"
    assert variables["job"]["query"]["query"] == "label_values(bybit_exporter_build_info, job)"
    assert variables["instance"]["query"]["query"] == \
        'label_values(bybit_exporter_build_info{job=~"$job"}, instance)'
    assert board["refresh"] == "30s"
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    for target in targets(board):
        selectors = re.findall(r"(?<![\w:])([\w:]*bybit_\w+(?::\w+)?)(\{[^}]*\})?", target["expr"])
        assert selectors, target
        for metric, matchers in selectors:
            scope = '{job=~"$job", instance=~"$instance", account=~"$account"'
            assert matchers.startswith(scope), (metric, target["expr"])
            if metric in WALLET_BALANCE and 'account_type="FUND"' not in matchers:
                assert 'account_type=~"$account_type"' in matchers, target["expr"]


def test_dashboard_panels_have_units_and_the_alert_thresholds():
    board, config = dashboard(), build.evaluate()["_config"]
    panels = {p["title"]: p for p in board["panels"]}
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    shipped = ["Overview", "Positions", "Net worth by wallet", "Coins", "API keys",
               "Exporter health"]
    assert [row for row in rows if row in shipped] == shipped  # in this order, among others
    margin = [None, config["maintenanceMarginWarningRatio"],
              config["maintenanceMarginCriticalRatio"]]
    for title in ("Maintenance margin rate", "Margin rates over time"):
        steps = panels[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [s["value"] for s in steps] == margin, title
    distance_steps = [None, config["liquidationDistanceCriticalRatio"],
                      config["liquidationDistanceWarningRatio"]]
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
    distance = panels["Liquidation distance"]["fieldConfig"]["defaults"]
    assert [s["value"] for s in distance["thresholds"]["steps"]] == distance_steps
    column = next(o for o in panels["Open positions"]["fieldConfig"]["overrides"]
                  if o["matcher"]["options"] == "Liquidation distance")
    thresholds = next(p["value"] for p in column["properties"] if p["id"] == "thresholds")
    assert [s["value"] for s in thresholds["steps"]] == distance_steps
    expiry = panels["Days until the API key expires"]["fieldConfig"]["defaults"]
    assert [s["value"] for s in expiry["thresholds"]["steps"]] == \
        [None, config["apiKeyExpiryCriticalDays"], config["apiKeyExpiryWarningDays"]]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_survives_grafanas_own_schema():
    if not os.environ.get("CI"):  # CI must have it: there, a missing SDK fails the import
        pytest.importorskip("grafana_foundation_sdk")
    from grafana_foundation_sdk.cog import plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    plugins.register_default_plugins()
    original = dashboard()
    model = Dashboard.from_json(original)
    again = json.loads(json.dumps(model.to_json(), default=lambda o: o.to_json()))

    def dropped(before, after, path=""):
        if isinstance(before, dict):
            if not isinstance(after, dict):
                return [path]
            return [p for key, value in before.items()
                    for p in ([f"{path}.{key}"] if key not in after
                              else dropped(value, after[key], f"{path}.{key}"))]
        if isinstance(before, list):
            if not isinstance(after, list) or len(before) != len(after):
                return [path]
            return [p for i, (x, y) in enumerate(zip(before, after))
                    for p in dropped(x, y, f"{path}[{i}]")]
        return [] if before == after else [f"{path}: {before!r} became {after!r}"]

    assert dropped(original, again) == []


def test_compose_and_provisioning_point_at_files_that_exist():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["exporter"]["command"] == ["--demo"]
    for service in services.values():
        for volume in service.get("volumes", []):
            assert (REPO / volume.split(":")[0]).exists(), volume
    datasource = yaml.safe_load((REPO / "grafana/provisioning/datasources/prometheus.yml")
                                .read_text())["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((REPO / "grafana/provisioning/dashboards/bybit.yml")
                              .read_text())["providers"][0]
    mount = next(v for v in services["grafana"]["volumes"] if "dashboards:" in v)
    assert mount.split(":")[1] == provider["options"]["path"]
    assert any(v.startswith("./prometheus/alertmanager.yml:")
               for v in services["alertmanager"]["volumes"])
    prometheus = yaml.safe_load((PROMETHEUS_DIR / "prometheus.compose.yml").read_text())
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == \
        ["alertmanager:9093"]


@pytest.fixture
def demo_with_prometheus(exporter_process, tmp_path):
    exporter = exporter_process(["--demo"])
    exporter.wait_ready()
    for rules in ("alerts.yml", "rules.yml"):
        (tmp_path / rules).write_text((PROMETHEUS_DIR / rules).read_text())
    target = exporter.url.split("://", 1)[1]
    prometheus = Prometheus(tmp_path, textwrap.dedent(f"""
        global: {{scrape_interval: 1s, evaluation_interval: 1s}}
        rule_files: [alerts.yml, rules.yml]
        scrape_configs:
          - job_name: exchange   # any name: no rule and no query depends on it
            static_configs: [{{targets: ['{target}']}}]
    """))
    yield exporter, prometheus
    prometheus.stop()


def test_dashboard_queries_return_data_and_margin_alerts_fire_for_the_right_account(
        demo_with_prometheus):
    exporter, prometheus = demo_with_prometheus

    def every_account_scraped():
        served = exporter.metrics_text().count("\nbybit_up{")
        return served >= 4 and len(prometheus.query("bybit_up")) == served

    wait_for(every_account_scraped, timeout=30)

    def query_of(expr):
        return (expr.replace("$account_type", ".*").replace("$account", ".*")
                .replace("$job", ".*").replace("$instance", ".*")
                .replace("$__rate_interval", "15s"))

    queries = {(panel["title"], target["refId"]): query_of(target["expr"])
               for panel in dashboard()["panels"] for target in panel.get("targets", [])}
    deadline = time.monotonic() + 30
    while True:
        empty = {key: expr for key, expr in queries.items() if not prometheus.query(expr)}
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert empty == {}, "dashboard queries without data: " + json.dumps(
        [f"{title} {ref}: {expr}" for (title, ref), expr in empty.items()], indent=1)

    def leveraged_margin_alert():
        return [a for a in prometheus.alerts() if a["labels"]["alertname"] ==
                "BybitMaintenanceMarginHigh" and a["labels"].get("account") == "demo-leveraged"
                and a["state"] in ("pending", "firing")]

    alert = wait_for(leveraged_margin_alert, timeout=30)[0]
    assert alert["labels"]["severity"] == "warning"
    assert alert["labels"]["account_type"] == "UNIFIED"
    assert alert["labels"]["job"] == "exchange" and alert["labels"]["instance"]
    assert "%" in alert["annotations"]["description"]
    # The demo's keys are set up to show the API key alerts (a key lacking a permission, one
    # that can trade): those are about the keys, not about margin.
    # The demo shows what stands between positions and liquidation on purpose: a reduce-only
    # position and one liquidated now and then on demo-isolated, a borrow rate that spikes on
    # demo-unified, MMP freezing now and then on demo-options.
    shown = {("demo-isolated", "BybitPositionReduceOnly"),
             ("demo-isolated", "BybitPositionLiquidating"),
             ("demo-unified", "BybitBorrowRateHigh"), ("demo-options", "BybitMmpFrozen")}
    others = [a["labels"] for a in prometheus.alerts()
              if a["labels"].get("account") != "demo-leveraged"
              and not a["labels"]["alertname"].startswith("BybitApiKey")
              and (a["labels"].get("account"), a["labels"]["alertname"]) not in shown]
    assert others == [], others
