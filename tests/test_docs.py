"""The documentation says what the code declares: its tables are generated from the catalogue of
metric families, the failure reasons, the collectors and the flags, wherever they now live
(README.md, docs/*.md), and must not drift; every family, reason, flag and config key is
documented in docs/; every metric and alert the text names exists."""

import re

from exporter.bybit.errors import EXPLANATIONS
from exporter.metrics.reasons import REASONS
from exporter.cli import FLAGS
from exporter.config import ACCOUNT_KEYS, TOP_KEYS, load_text
from exporter.service.catalogue import SERVED
from tests import readme_tables
from tests.conftest import REPO

PAGES = {path: path.read_text() for path in readme_tables.pages()}
DOCS = "\n".join(text for path, text in PAGES.items() if path.parent == REPO / "docs")
CONFIGURATION = (REPO / "docs" / "configuration.md").read_text()
# A metric name in running text; one preceded by ':' is a recording rule's middle part, one
# followed by '*' a family of names (bybit_collector_*), one after '/' or '.' a path or module.
METRIC_NAME = re.compile(r"(?<![\w:/.-])bybit_[a-z0-9_]*[a-z0-9](?![\w*])")
ALERT_NAME = re.compile(r"(?<!\w)Bybit[A-Z][A-Za-z]+")


def test_every_generated_table_is_the_generated_one():
    for path, text in PAGES.items():
        assert readme_tables.render(text) == text, \
            f"{path.relative_to(REPO)} is out of date: run `.venv/bin/python -m tests.readme_tables`"


def test_every_table_is_on_exactly_one_page():
    placed = [name for text in PAGES.values() for name in readme_tables.names_in(text)]
    for name in readme_tables.TABLES:
        assert placed.count(name) == 1, f"the {name} table is on {placed.count(name)} pages"
    assert set(placed) <= set(readme_tables.TABLES), placed


def test_every_family_reason_and_flag_is_documented_in_docs():
    for family in SERVED:
        assert f"`{family.name}`" in DOCS, family.name
    for reason in REASONS:
        assert reason in EXPLANATIONS and f"| `{reason}` |" in DOCS, reason
    for flag in FLAGS:
        assert f"| `{flag.name}` |" in DOCS, flag.name


def _first_cells(page: str) -> list[str]:
    return [line.split("|")[1] for line in page.splitlines() if line.startswith("| `")]


def test_every_config_key_is_documented_in_the_configuration_table():
    cells = _first_cells(CONFIGURATION)
    top = [cell for cell in cells if not cell.strip().startswith("`accounts[].")]
    per_account = [cell for cell in cells if cell.strip().startswith("`accounts[].")]
    for key in TOP_KEYS:
        assert any(f"`{key}`" in cell for cell in top), key
    for key in ACCOUNT_KEYS:
        assert any(f"`accounts[].{key}`" in cell or f"`{key}`" in cell
                   for cell in per_account), f"accounts[].{key}"


def test_every_metric_the_text_names_is_served():
    served = {family.name for family in SERVED}
    for path, text in PAGES.items():
        named = set(METRIC_NAME.findall(text))
        assert named <= served, (path.relative_to(REPO), sorted(named - served))


def test_every_alert_the_text_names_exists():
    alerts = {rule["alert"] for rule in readme_tables.every_alerting_rule()}
    for path, text in PAGES.items():
        named = set(ALERT_NAME.findall(text))
        assert named <= alerts, (path.relative_to(REPO), sorted(named - alerts))


def test_a_renamed_family_would_be_caught():
    metrics_page = next(text for text in PAGES.values() if "<!-- generated:metrics -->" in text)
    renamed = metrics_page.replace("`bybit_position_size`", "`bybit_position_amount`")
    assert readme_tables.render(renamed) != renamed


def test_every_config_example_in_the_docs_is_valid():
    examples = [(path, block) for path, text in PAGES.items()
                for block in re.findall(r"```yaml\n(.*?)```", text, re.S)
                if re.search(r"^accounts:", block, re.M)]
    assert {path.name for path, _ in examples} >= {"README.md", "configuration.md"}
    for path, block in examples:
        environ = {name: "x" for name in re.findall(r"\$\{(\w+)\}", block)}
        assert load_text(block, environ=environ).accounts, path
