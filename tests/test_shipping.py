"""What ships beside the exporter: alert rules, Prometheus configs, the Grafana dashboard and its
provisioning, proven with promtool, Grafana's own schema and a real Prometheus."""

import json
import os
import re
import subprocess
import textwrap

import pytest
import yaml

from tests.conftest import REPO, wait_for
from tests.prom import Prometheus, binary

DASHBOARD = REPO / "grafana" / "dashboards" / "bybit.json"
PROMETHEUS_DIR = REPO / "prometheus"


def promtool(*args):
    result = subprocess.run([binary("promtool"), *args], cwd=PROMETHEUS_DIR, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_rules_are_clean_and_their_unit_tests_pass():
    assert "SUCCESS: 9 rules found" in promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in promtool("test", "rules", "alerts_test.yml")


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_prometheus_configs_are_valid(config):
    assert "is valid prometheus config file syntax" in promtool("check", "config", config)


def test_every_alert_has_severity_labels_and_annotations():
    rules = [rule for group in yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
             for rule in group["rules"]]
    readme = (REPO / "README.md").read_text()
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert re.search(rf'<a id="{anchor}"></a>', readme), f"README lacks the {anchor} runbook"
        if "ratio" in rule["expr"] and "predict" not in rule["expr"]:
            assert "humanizePercentage" in rule["annotations"]["description"], rule["alert"]


def dashboard():
    return json.loads(DASHBOARD.read_text())


def targets(board):
    return [target for panel in board["panels"] for target in panel.get("targets", [])]


def test_dashboard_variables_and_datasource():
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("account", "account_type"):
        assert variables[name]["multi"] and variables[name]["includeAll"], name
        assert variables[name]["datasource"]["uid"] == "${datasource}"
    assert board["refresh"] == "30s"
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    for target in targets(board):
        assert 'account=~"$account", account_type=~"$account_type"' in target["expr"], target
    gauges = {p["title"]: p for p in board["panels"] if p["type"] == "gauge"}
    steps = gauges["Maintenance margin rate"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 0.5, 0.8]  # the alert thresholds


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
    mount = [v for v in services["grafana"]["volumes"] if "dashboards:" in v][0]
    assert mount.split(":")[1] == provider["options"]["path"]


@pytest.fixture
def demo_with_prometheus(exporter_process, tmp_path):
    exporter = exporter_process(["--demo"])
    exporter.wait_ready()
    (tmp_path / "alerts.yml").write_text((PROMETHEUS_DIR / "alerts.yml").read_text())
    target = exporter.url.split("://", 1)[1]
    prometheus = Prometheus(tmp_path, textwrap.dedent(f"""
        global: {{scrape_interval: 1s, evaluation_interval: 1s}}
        rule_files: [alerts.yml]
        scrape_configs:
          - job_name: bybit
            static_configs: [{{targets: ['{target}']}}]
    """))
    yield exporter, prometheus
    prometheus.stop()


def test_dashboard_queries_return_data_and_margin_alerts_fire_for_the_right_account(
        demo_with_prometheus):
    _, prometheus = demo_with_prometheus
    wait_for(lambda: len(prometheus.query("bybit_up")) == 4, timeout=30)

    def query_of(expr):
        return (expr.replace("$account_type", ".*").replace("$account", ".*")
                .replace("$__rate_interval", "15s"))

    for target in targets(dashboard()):
        wait_for(lambda expr=target["expr"]: prometheus.query(query_of(expr)), timeout=30)

    def leveraged_margin_alert():
        return [a for a in prometheus.alerts() if a["labels"]["alertname"] ==
                "BybitMaintenanceMarginHigh" and a["labels"].get("account") == "demo-leveraged"
                and a["state"] in ("pending", "firing")]

    alert = wait_for(leveraged_margin_alert, timeout=30)[0]
    assert alert["labels"]["severity"] == "warning"
    assert alert["labels"]["account_type"] == "UNIFIED"
    assert "%" in alert["annotations"]["description"]
    others = [a["labels"] for a in prometheus.alerts()
              if a["labels"].get("account") != "demo-leveraged"]
    assert others == [], others
