#!/usr/bin/env python3
"""Write prometheusrule.yaml: a PrometheusRule whose spec.groups are exactly the groups of
prometheus/alerts.yml. Run it after every change to alerts.yml; `--check` only reports drift
(exit 1), for tests and CI."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ALERTS = HERE.parent.parent / "prometheus" / "alerts.yml"
TARGET = HERE / "prometheusrule.yaml"

HEADER = """\
# Generated from prometheus/alerts.yml by generate_prometheusrule.py: do not edit, run
#   python3 deploy/kubernetes/generate_prometheusrule.py
# The release label makes kube-prometheus-stack load it (see servicemonitor.yaml).
"""


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the longer expressions) as literal blocks, as in alerts.yml."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(alerts_text: str) -> str:
    groups = yaml.safe_load(alerts_text)["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "bybit-exporter", "labels": {"release": "kube-prometheus-stack"}},
        "spec": {"groups": groups},
    }
    return HEADER + yaml.dump(rule, Dumper=_Dumper, sort_keys=False, width=1000,
                              allow_unicode=True)


def main(argv: list[str]) -> int:
    wanted = render(ALERTS.read_text())
    if argv[1:] == ["--check"]:
        if TARGET.exists() and TARGET.read_text() == wanted:
            return 0
        print(f"{TARGET.name} is out of date: run python3 {Path(__file__).name}", file=sys.stderr)
        return 1
    if argv[1:]:
        print(f"usage: {Path(__file__).name} [--check]", file=sys.stderr)
        return 2
    TARGET.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
