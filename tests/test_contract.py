"""The public contract (docs/versioning.md) changes only as announced: everything the last
release had is still there, or the CHANGELOG's Unreleased section names it, as breaking where a
user's setup depends on it. The version and the CHANGELOG agree."""

import pytest

import exporter
from exporter import cli
from exporter.cli import Flag
from tests import contract

CHANGELOG = contract.CHANGELOG.read_text()


@pytest.fixture(scope="module")
def now():
    return contract.lines()


def test_nothing_of_the_last_release_is_gone_unannounced(now):
    _, before = contract.recorded()
    assert contract.unannounced(before, now, contract.unreleased(CHANGELOG)) == [], \
        "announce it in CHANGELOG.md's Unreleased section (docs/versioning.md)"


def test_the_recorded_contract_is_the_last_releases():
    version, before = contract.recorded()
    assert version == contract.last_release(CHANGELOG)
    assert before == sorted(before) and len(set(before)) == len(before)


def test_the_version_is_in_the_changelog_under_an_unreleased_section():
    headings = [line for line in CHANGELOG.splitlines() if line.startswith("## ")]
    assert headings[0] == "## [Unreleased]"
    assert any(heading.startswith(f"## [{exporter.__version__}] - ") for heading in headings)


# The check itself, on changes made on purpose.

METRIC = "metric bybit_position_size gauge account,category,symbol,side,position_idx"


@pytest.mark.parametrize("entries, caught", [
    ([], True),
    (["- Renamed `bybit_position_size` to `bybit_position_amount`."], True),  # not marked
    (["- **Breaking:** `bybit_position_size` is now `bybit_position_amount`."], False),
    (["- **Breaking:** `bybit_position_value` is now `bybit_position_notional`."], True),
])
def test_a_renamed_metric_needs_a_breaking_entry(entries, caught):
    now = [METRIC.replace("bybit_position_size", "bybit_position_amount")]
    assert contract.unannounced([METRIC], now, entries) == ([METRIC] if caught else [])


def test_a_label_added_to_a_metric_is_a_change_to_it():
    now = [METRIC + ",mode"]
    assert contract.unannounced([METRIC], now, []) == [METRIC]


def test_additions_need_no_entry():
    assert contract.unannounced([METRIC], [METRIC, "metric bybit_new gauge account"], []) == []


def test_a_state_change_needs_an_entry_naming_it():
    before = ["state totals uid:TEXT,collector:TEXT,family:TEXT,labels:TEXT,value:TEXT"]
    now = ["state totals uid:TEXT,collector:TEXT,family:TEXT,labels:TEXT,value:TEXT,at:INTEGER"]
    assert contract.unannounced(before, now, []) == before
    entry = ["- The state file's `totals` table records when each total last moved; an older "
             "file is converted when first opened."]
    assert contract.unannounced(before, now, entry) == []


def test_entries_spread_over_lines_are_read_whole():
    changelog = ("# Changelog\n\n## [Unreleased]\n\n### Removed\n\n- **Breaking:** the flag\n"
                 "  `--web.max-requests` is gone.\n\n## [0.1.0] - 2026-12-06\n\n- `--demo`\n")
    assert contract.unreleased(changelog) == ["- **Breaking:** the flag `--web.max-requests` is gone."]


def unannounced_flags(entries):
    """What the check finds among the flags (other changes are the first test's business)."""
    _, before = contract.recorded()
    return [item for item in contract.unannounced(before, contract.lines(), entries)
            if item.startswith("flag ")]


def test_a_flag_removed_from_the_code_is_caught(monkeypatch):
    removed = next(flag for flag in cli.FLAGS if flag.name == "--web.max-requests")
    monkeypatch.setattr(contract, "FLAGS", tuple(f for f in cli.FLAGS if f is not removed))
    assert unannounced_flags(contract.unreleased(CHANGELOG)) == [
        f"flag --web.max-requests {removed.env}"]
    announced = [f"- **Breaking:** `--web.max-requests` is gone; `{removed.env}` with it."]
    assert unannounced_flags(announced) == []


def test_a_renamed_environment_variable_is_caught(monkeypatch):
    renamed = tuple(Flag(f.name, f.env.replace("BYBIT_EXPORTER_", "BYBIT_"), f.help, f.default,
                         f.metavar, f.repeatable) if f.name == "--shard" else f
                    for f in cli.FLAGS)
    monkeypatch.setattr(contract, "FLAGS", renamed)
    assert unannounced_flags([]) == ["flag --shard BYBIT_EXPORTER_SHARD"]
