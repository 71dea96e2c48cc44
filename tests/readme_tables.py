"""The tables of the documentation, generated from what they document: the endpoint modules and
the metric catalogue, the failure reasons, the flags and the mixin's alerts. Each sits between
`<!-- generated:NAME -->` and `<!-- /generated:NAME -->` on whichever page it belongs to (README.md,
CONTRIBUTING.md or docs/*.md); `python -m tests.readme_tables` rewrites them all, and
tests/test_docs.py fails when a page and the code disagree."""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from exporter.bybit.endpoint import Endpoint
from exporter.bybit.endpoints import ENDPOINTS
from exporter.bybit.errors import EXPLANATIONS
from exporter.metrics.reasons import REASONS
from exporter.cli import FLAGS
from exporter.config import DEFAULT_COLLECT, UNIFIED_ONLY, Account, Secret
from exporter.metrics.family import (COLLECTOR_HEALTH, EXPORTER_FAMILIES, INVALID_FIELDS,
                                     WALLET_HEALTH, Family)
from mixin import build

REPO = Path(__file__).resolve().parent.parent
# _config that compiles every alert the mixin has: some are left out unless asked for
EVERY_ALERT = {"stopLossRequired": True, "optionGreekLimits": {"BTC": {"delta": 25}}}
BLOCK = re.compile(r"(<!-- generated:(\w+) -->\n).*?(<!-- /generated:\2 -->)", re.S)


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def _labels(target: tuple[str, ...], family: Family) -> str:
    return ", ".join(f"`{label}`" for label in (*target, *family.labels))


def collectors() -> str:
    lines = [_row("collector", "endpoint", "default", "every", "requests per poll",
                  "Bybit's per-UID limit", "key permission"), _row(*["---"] * 7)]
    for endpoint in ENDPOINTS:
        every = "`poll_interval`" if endpoint.margin or endpoint.interval is None else \
            f"{endpoint.interval:g} s (at least `poll_interval`)"
        paths = "<br>".join(f"`GET {path}`" for path in endpoint.paths)
        lines.append(_row(f"`{endpoint.collector}`", paths,
                          _default(endpoint.collector),
                          every, _requests(endpoint),
                          "<br>".join(_rate(source.uid_limit_per_second)
                                      for source in endpoint.sources)
                          or _rate(endpoint.uid_limit_per_second), endpoint.permission))
    return "\n".join(lines)


def _rate(per_second: float) -> str:
    return f"{per_second:g}/s" if per_second == int(per_second) else f"{per_second * 60:g}/min"


def _default(collector: str) -> str:
    if collector not in DEFAULT_COLLECT:
        return "when asked"
    return "yes, for accounts with `UNIFIED`" if collector in UNIFIED_ONLY else "yes"


SAMPLE = Account(name="x", api_key=Secret("k"), api_secret=Secret("s"), rsa_private_key=None,
                 account_types=("UNIFIED",), coins=(), endpoint="https://api.bybit.com",
                 recv_window_ms=5000, poll_interval=30.0)


def _requests(endpoint: Endpoint) -> str:
    text = str(endpoint.requests_per_poll(SAMPLE))
    if endpoint.typical_requests is not None:  # queries chosen by the wallet's evidence
        typical = endpoint.typical_requests(endpoint.interval or SAMPLE.poll_interval)
        text = f"{typical:g} with typical evidence, up to {text}"
    if endpoint.collector == "wallet":
        text += " per account type"
    if endpoint.paginated:
        text += " (+1 per further page)"
    if endpoint.sources:
        text += " (+ one `GET /v5/user/query-api` per account and process start, for the UID)"
    if endpoint.needs_prices:
        text += " (+ a public tickers call per Bybit host, shared by all accounts)"
    return text


def value_labels(endpoint: Endpoint) -> tuple[str, ...]:
    return tuple(name for name, _ in endpoint.targets(SAMPLE)[0].values_labelled)


def metrics() -> str:
    lines = [_row("metric", "labels", "collector", "meaning", "note"), _row(*["---"] * 5)]
    seen: set[str] = set()
    for endpoint in ENDPOINTS:
        target = ("account", *value_labels(endpoint))
        for family in endpoint.families:
            key = f"{family.name}/{endpoint.collector}"
            if key in seen:
                continue
            seen.add(key)
            lines.append(_row(f"`{family.name}`", _labels(target, family),
                              f"`{endpoint.collector}`", family.help, family.note))
    return "\n".join(lines)


def health() -> str:
    lines = [_row("metric", "type", "labels", "meaning"), _row(*["---"] * 4)]
    for families, target in ((WALLET_HEALTH.all(), ("account", "account_type")),
                             (COLLECTOR_HEALTH.all(), ("account", "collector"))):
        for family in families:
            lines.append(_row(f"`{family.name}`", str(family.type), _labels(target, family),
                              family.help))
    lines.append(_row(f"`{INVALID_FIELDS.name}`", str(INVALID_FIELDS.type),
                      "`account`, `account_type` (wallet) or `account`, `collector`",
                      INVALID_FIELDS.help))
    for family in EXPORTER_FAMILIES:
        lines.append(_row(f"`{family.name}`", str(family.type), _labels((), family) or "",
                          family.help))
    return "\n".join(lines)


def reasons() -> str:
    lines = [_row("reason", "cause", "what the exporter does"), _row(*["---"] * 3)]
    lines += [_row(f"`{reason}`", *EXPLANATIONS[reason]) for reason in REASONS]
    return "\n".join(lines)


def flags() -> str:
    lines = [_row("flag", "environment", "default", "meaning"), _row(*["---"] * 4)]
    for flag in FLAGS:
        env = f"`{flag.env}`" + ("" if flag.metavar else "`=true`")
        default = f"`{flag.default}`" if flag.default else ""
        lines.append(_row(f"`{flag.name}`", env, default, flag.help))
    lines.append(_row("`--version`", "", "", "print the version, revision, branch and Python"))
    return "\n".join(lines)


def alerting_rules(overrides: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The mixin's alerting rules, compiled with the default _config or with `overrides`."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "mixin.jsonnet"
        source.write_text("(import 'mixin/mixin.libsonnet') + { _config+:: %s }\n"
                          % json.dumps(overrides or {}))
        groups = build.evaluate(source)["prometheusAlerts"]["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def every_alerting_rule() -> list[dict[str, Any]]:
    """Every alerting rule the mixin can compile, those it leaves out by default included."""
    return alerting_rules(EVERY_ALERT)


def alerts() -> str:
    """Every alert the mixin can compile, linked to its runbook: the section its runbook_url
    points at."""
    shipped = {rule["alert"] for rule in alerting_rules()}
    lines = [_row("alert", "severity", "for", "summary"), _row(*["---"] * 4)]
    for rule in every_alerting_rule():
        anchor = rule["annotations"]["runbook_url"].rpartition("#")[2]
        summary = re.sub(r"\{\{ \$(?:labels\.)?(\w+)( \| \w+)? \}\}", r"*\1*",
                         rule["annotations"]["summary"])
        if rule["alert"] not in shipped:
            summary += " (compiled only when `_config` asks for it)"
        lines.append(_row(f"[{rule['alert']}](runbooks.md#{anchor})", rule["labels"]["severity"],
                          rule.get("for", "at once"), summary))
    return "\n".join(lines)


TABLES = {"collectors": collectors, "metrics": metrics, "health": health, "reasons": reasons,
          "flags": flags, "alerts": alerts}


def pages(root: Path = REPO) -> list[Path]:
    """Every page of the documentation: where a generated table may be."""
    candidates = [root / "README.md", root / "CONTRIBUTING.md",
                  *sorted((root / "docs").glob("*.md"))]
    return [path for path in candidates if path.is_file()]


def names_in(text: str) -> list[str]:
    """The generated tables a page holds, in order."""
    return [match.group(2) for match in BLOCK.finditer(text)]


def render(text: str) -> str:
    """The page with every generated table as the code now declares it."""
    def table(match: re.Match[str]) -> str:
        if match.group(2) not in TABLES:
            raise KeyError(f"no generated table is called {match.group(2)!r}")
        return match.group(1) + TABLES[match.group(2)]() + "\n" + match.group(3)

    return BLOCK.sub(table, text)


def main() -> int:
    placed: list[str] = []
    for path in pages():
        text = path.read_text()
        placed += names_in(text)
        if render(text) != text:
            path.write_text(render(text))
            print(f"{path.relative_to(REPO)}: tables rewritten")
    missing = [name for name in TABLES if name not in placed]
    if missing:
        print(f"no page has the markers for: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
