"""The README's tables, generated from what they document: the endpoint modules and the metric
catalogue, the failure reasons and the flags. `python -m tests.readme_tables` rewrites them in
README.md; tests/test_docs.py fails when README.md and the code disagree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from exporter.bybit.endpoint import Endpoint
from exporter.bybit.endpoints import ENDPOINTS
from exporter.bybit.errors import EXPLANATIONS, REASONS
from exporter.cli import FLAGS
from exporter.config import DEFAULT_COLLECT, UNIFIED_ONLY, Account, Secret
from exporter.metrics.family import (COLLECTOR_HEALTH, EXPORTER_FAMILIES, INVALID_FIELDS,
                                     WALLET_HEALTH, Family)

README = Path(__file__).resolve().parent.parent / "README.md"
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


def _value_labels(endpoint: Endpoint) -> tuple[str, ...]:
    return tuple(name for name, _ in endpoint.targets(SAMPLE)[0].values_labelled)


def metrics() -> str:
    lines = [_row("metric", "labels", "collector", "meaning", "note"), _row(*["---"] * 5)]
    seen: set[str] = set()
    for endpoint in ENDPOINTS:
        target = ("account", *_value_labels(endpoint))
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


TABLES = {"collectors": collectors, "metrics": metrics, "health": health, "reasons": reasons,
          "flags": flags}


def render(readme: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + TABLES[m.group(2)]() + "\n" + m.group(3), readme)


if __name__ == "__main__":
    text = README.read_text()
    missing = [name for name in TABLES if f"<!-- generated:{name} -->" not in text]
    if missing:
        sys.exit(f"README.md lacks the markers for: {', '.join(missing)}")
    README.write_text(render(text))
    print("README.md tables rewritten")
