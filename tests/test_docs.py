"""The README says what the code declares: its tables are generated from the catalogue of
metric families, the failure reasons, the collectors and the flags, and must not drift."""

from exporter.bybit.errors import EXPLANATIONS, REASONS
from exporter.cli import FLAGS
from exporter.metrics.catalogue import SERVED
from tests import readme_tables
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_the_readme_tables_are_the_generated_ones():
    assert readme_tables.render(README) == README, \
        "README.md is out of date: run `.venv/bin/python -m tests.readme_tables`"
    for name in readme_tables.TABLES:
        assert f"<!-- generated:{name} -->" in README, name


def test_every_family_reason_and_flag_is_documented():
    for family in SERVED:
        assert f"`{family.name}`" in README, family.name
    for reason in REASONS:
        assert reason in EXPLANATIONS and f"| `{reason}` |" in README, reason
    for flag in FLAGS:
        assert f"| `{flag.name}` |" in README, flag.name


def test_a_renamed_family_would_be_caught():
    renamed = README.replace("`bybit_position_size`", "`bybit_position_amount`")
    assert readme_tables.render(renamed) != renamed
