"""Compile the monitoring mixin into the files the repository ships:

    .venv/bin/python -m mixin.build           # write them
    .venv/bin/python -m mixin.build --check   # exit 1 if any differs from the mixin

grafana/dashboards/*.json, prometheus/alerts.yml, prometheus/rules.yml,
deploy/kubernetes/prometheusrule.yaml (alerts and recording rules for prometheus-operator) and
their groups again inside the Helm chart, whose PrometheusRule cannot read files outside it.
Needs the `jsonnet` package from PyPI (a binary wheel: no compiler, no Go toolchain)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import _jsonnet  # type: ignore[import-untyped]
import yaml

MIXIN = Path(__file__).resolve().parent
REPO = MIXIN.parent
COMMAND = ".venv/bin/python -m mixin.build"
DASHBOARDS = REPO / "grafana" / "dashboards"
ALERTS = REPO / "prometheus" / "alerts.yml"
RULES = REPO / "prometheus" / "rules.yml"
PROMETHEUS_RULE = REPO / "deploy" / "kubernetes" / "prometheusrule.yaml"
CHART_RULES = REPO / "deploy" / "helm" / "bybit-exporter" / "files" / "prometheus-rules.yaml"

GENERATED = (f"# Generated from mixin/ by `{COMMAND}`: do not edit. Change\n"
             "# mixin/config.libsonnet (thresholds, selector, runbook URLs) or override _config\n"
             "# from your own jsonnet.\n")
HEADERS = {
    ALERTS: GENERATED + (
        "# The alert rules, for Prometheus >= 2.42 (keep_firing_for); how they behave while an\n"
        "# exporter is down: mixin/alerts/alerts.libsonnet. Proven by alerts_test.yml.\n"),
    RULES: GENERATED + (
        "# Recording rules for the dashboard's heavier queries: load them beside alerts.yml.\n"),
    PROMETHEUS_RULE: GENERATED + (
        "# alerts.yml and rules.yml as one PrometheusRule. The release label makes\n"
        "# kube-prometheus-stack load it (see servicemonitor.yaml).\n"),
    CHART_RULES: GENERATED + (
        "# alerts.yml and rules.yml, the groups of the Helm chart's PrometheusRule\n"
        "# (templates/prometheusrule.yaml). A change here is a change to the chart: bump its\n"
        "# version (see the chart's README, Version policy).\n"),
}
# Key order in the rule files: as people write them, not jsonnet's alphabetical one.
ORDER = ["name", "interval", "rules", "alert", "record", "expr", "for", "keep_firing_for",
         "labels", "annotations", "summary", "description", "runbook_url"]


def evaluate(source: Path | None = None) -> dict[str, Any]:
    """The mixin's four fields. `source`: a jsonnet file whose value is the mixin, such as a
    user's `(import 'mixin/mixin.libsonnet') + {_config+:: {...}}`; imports resolve from the
    repository root and from the file's own directory."""
    path = (source or MIXIN / "mixin.libsonnet").resolve()
    snippet = (f"local mixin = import {json.dumps(str(path))};\n"
               "{ _config: mixin._config, prometheusAlerts: mixin.prometheusAlerts,\n"
               "  prometheusRules: mixin.prometheusRules,\n"
               "  grafanaDashboards: mixin.grafanaDashboards }")
    result: dict[str, Any] = json.loads(
        _jsonnet.evaluate_snippet("mixin.build", snippet, jpathdir=[str(REPO)]))
    return result


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the longer expressions) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str)


def _ordered(value: Any) -> Any:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
        return {key: _ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def _yaml(document: Any) -> str:
    return yaml.dump(_ordered(document), Dumper=_Dumper, sort_keys=False, width=1000,
                     allow_unicode=True)


def render(mixin: dict[str, Any]) -> dict[Path, str]:
    """Every compiled file: path -> text."""
    alerts, rules = mixin["prometheusAlerts"], mixin["prometheusRules"]
    prometheus_rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "bybit-exporter", "labels": {"release": "kube-prometheus-stack"}},
        "spec": {"groups": alerts["groups"] + rules["groups"]},
    }
    files = {
        ALERTS: HEADERS[ALERTS] + _yaml(alerts),
        RULES: HEADERS[RULES] + _yaml(rules),
        PROMETHEUS_RULE: HEADERS[PROMETHEUS_RULE] + _yaml(prometheus_rule),
        CHART_RULES: HEADERS[CHART_RULES] + _yaml({"groups": prometheus_rule["spec"]["groups"]}),
    }
    for name, board in mixin["grafanaDashboards"].items():
        files[DASHBOARDS / name] = json.dumps(board, indent=2, ensure_ascii=False) + "\n"
    return files


def stale(files: dict[Path, str]) -> list[Path]:
    """The files whose committed text differs from the compiled one, and dashboards that the
    mixin no longer makes."""
    changed = [path for path, text in files.items()
               if not path.exists() or path.read_text() != text]
    orphans = [path for path in sorted(DASHBOARDS.glob("*.json")) if path not in files]
    return changed + orphans


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print(f"usage: {COMMAND} [--check]", file=sys.stderr)
        return 2
    files = render(evaluate())
    if argv == ["--check"]:
        differ = stale(files)
        for path in differ:
            print(f"{path.relative_to(REPO)} differs from the mixin: run {COMMAND}",
                  file=sys.stderr)
        return 1 if differ else 0
    for path, text in files.items():
        if path == CHART_RULES and path.exists() and path.read_text() != text:
            print(f"{path.relative_to(REPO)} changed: bump the chart's version (its README, "
                  "Version policy; tests/test_helm.py gives the line to record)", file=sys.stderr)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
