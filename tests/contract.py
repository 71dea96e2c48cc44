"""The public contract as the code declares it (docs/versioning.md), one line per item:
"KIND NAME DETAIL". Metric families with their type and labels, flags with their variables,
config keys, the names the exporter defines (collectors, failure reasons, account types, endpoint
names), the money-flow state file's tables and columns, and the mixin's alerts, recording rules
and _config keys.

`python -m tests.contract` records it in tests/fixtures/contract.txt at a release;
tests/test_contract.py fails when an item recorded there is gone and the CHANGELOG's Unreleased
section does not announce it."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import _jsonnet  # type: ignore[import-untyped]

import exporter
from exporter.account import ACCOUNT_TYPES, ENDPOINTS as ENDPOINT_NAMES
from exporter.bybit.endpoints import ENDPOINTS
from exporter.metrics.reasons import REASONS
from exporter.cli import FLAGS
from exporter.config import ACCOUNT_KEYS, TOP_KEYS
from exporter.metrics.family import (COLLECTOR_HEALTH, EXPORTER_FAMILIES, INVALID_FIELDS,
                                     WALLET_HEALTH, Family)
from exporter.service.ledger_state import LedgerFile
from mixin import build
from tests import readme_tables

RECORDED = Path(__file__).resolve().parent / "fixtures" / "contract.txt"
CHANGELOG = build.REPO / "CHANGELOG.md"
# Items whose change must be announced as breaking; a state file change comes with its
# conversion, and any line of the Unreleased section that names it will do.
BREAKING_KINDS = ("metric", "flag", "config", "collector", "reason", "account_type", "endpoint",
                  "alert", "record", "mixin_config")


def _metric_lines() -> Iterator[str]:
    labels: dict[str, set[str]] = {}
    types: dict[str, str] = {}

    def add(family: Family, names: tuple[str, ...]) -> None:
        labels.setdefault(family.name, set()).add(",".join(names) or "-")
        types[family.name] = str(family.type)

    for endpoint in ENDPOINTS:
        target = ("account", *readme_tables.value_labels(endpoint))
        for family in endpoint.families:
            add(family, (*target, *family.labels))
    for families, target in ((WALLET_HEALTH.all(), ("account", "account_type")),
                             (COLLECTOR_HEALTH.all(), ("account", "collector"))):
        for family in families:
            add(family, (*target, *family.labels))
    add(INVALID_FIELDS, ("account", "account_type"))
    add(INVALID_FIELDS, ("account", "collector"))
    for family in EXPORTER_FAMILIES:
        add(family, family.labels)
    for name in labels:
        yield f"metric {name} {types[name]} {'|'.join(sorted(labels[name]))}"


def _state_lines() -> Iterator[str]:
    """The tables and columns of a state file as the current code writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        with LedgerFile(Path(tmp), "contract").transaction("uid", "transactions"):
            pass
        db = sqlite3.connect(Path(tmp) / "contract.sqlite")
        try:
            yield f"state user_version {db.execute('PRAGMA user_version').fetchone()[0]}"
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                "ORDER BY name").fetchall()
            for (table,) in tables:
                columns = db.execute(f"PRAGMA table_info({table})").fetchall()
                yield f"state {table} " + ",".join(f"{c[1]}:{c[2]}" for c in columns)
        finally:
            db.close()


@functools.cache
def _mixin_lines() -> tuple[str, ...]:
    """The mixin's part (compiled once: it takes seconds)."""
    alerts = sorted({rule["alert"] for rule in readme_tables.every_alerting_rule()})
    mixin = build.evaluate()
    groups = mixin["prometheusAlerts"]["groups"] + mixin["prometheusRules"]["groups"]
    records = sorted({rule["record"] for group in groups for rule in group["rules"]
                      if "record" in rule})
    keys = json.loads(_jsonnet.evaluate_snippet(
        "contract", "std.objectFields((import 'mixin/config.libsonnet')._config)",
        jpathdir=[str(build.REPO)]))
    return (*(f"alert {name}" for name in alerts), *(f"record {name}" for name in records),
            *(f"mixin_config {key}" for key in keys))


def lines() -> list[str]:
    """The contract of the code as it is now, sorted."""
    found = [*_metric_lines(),
             *(f"flag {flag.name} {flag.env}" for flag in FLAGS), "flag --version -",
             *(f"config {key}" for key in TOP_KEYS),
             *(f"config accounts[].{key}" for key in ACCOUNT_KEYS),
             *(f"collector {endpoint.collector}" for endpoint in ENDPOINTS),
             *(f"reason {reason}" for reason in REASONS),
             *(f"account_type {name}" for name in ACCOUNT_TYPES),
             *(f"endpoint {name}" for name in ENDPOINT_NAMES),
             *_state_lines(), *_mixin_lines()]
    return sorted(found)


def recorded(path: Path = RECORDED) -> tuple[str, list[str]]:
    """The version whose contract the file records, and its lines."""
    text = path.read_text().splitlines()
    version = re.search(r"bybit-exporter (\d+\.\d+\.\d+)", text[0])
    assert version, f"{path}: the first line names no version"
    return version.group(1), [line for line in text if line and not line.startswith("#")]


def unreleased(changelog: str) -> list[str]:
    """The entries of the CHANGELOG's Unreleased section, each joined into one line."""
    section = changelog.split("## [Unreleased]", 1)[1].split("\n## [", 1)[0]
    entries: list[str] = []
    for line in section.splitlines():
        if line.startswith("- "):
            entries.append(line)
        elif line.startswith("  ") and entries:
            entries[-1] += " " + line.strip()
    return entries


def unannounced(before: list[str], now: list[str], entries: list[str]) -> list[str]:
    """The items of `before` that are not in `now` and that no entry announces: an entry naming
    the item in backticks, marked **Breaking:** for the kinds a user's setup depends on."""
    current = set(now)
    missing = []
    for item in before:
        if item in current:
            continue
        kind, name = item.split(" ")[:2]
        announcing = [entry for entry in entries if f"`{name}`" in entry]
        if kind in BREAKING_KINDS:
            announcing = [entry for entry in announcing if "**Breaking:**" in entry]
        if not announcing:
            missing.append(item)
    return missing


def last_release(changelog: str) -> str:
    """The newest version the CHANGELOG has released."""
    found = re.search(r"^## \[(\d+\.\d+\.\d+)\]", changelog, re.M)
    assert found, "CHANGELOG.md has no released version"
    return found.group(1)


def main() -> int:
    header = (f"# The public contract of bybit-exporter {exporter.__version__}, recorded at its "
              "release by `python -m tests.contract`\n# (docs/versioning.md). "
              "tests/test_contract.py compares the code with it.\n")
    RECORDED.write_text(header + "\n".join(lines()) + "\n")
    print(f"{RECORDED.relative_to(build.REPO)}: the contract of {exporter.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
