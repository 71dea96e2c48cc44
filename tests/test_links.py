"""The documentation's links hold: every relative link and #anchor in README.md, CONTRIBUTING.md,
CHANGELOG.md, docs/*.md and the project's other Markdown pages resolves by GitHub's anchor rules; every alert's runbook_url leads
to the alert's own section of docs/runbooks.md; the README stays short; no commit hash in the
README or docs. Each check is also shown failing on a broken copy of the pages."""

import shutil
from urllib.parse import urlparse

import pytest
import yaml

from tests import markdown, readme_tables
from tests.conftest import REPO

README_MAX_LINES = 400
BLOB = "/bybit-exporter/bybit-exporter/blob/main/"


def shipped_alerts(root):
    rules = yaml.safe_load((root / "prometheus" / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def runbook_problems(root, alerts):
    """Each alert whose runbook_url does not lead to a section of docs/runbooks.md headed by the
    alert's own name."""
    text = (root / "docs" / "runbooks.md").read_text()
    headed = {markdown.slug(line.lstrip("#").strip()): line.lstrip("#").strip()
              for _, line in markdown.prose(text) if markdown.HEADING.match(line)}
    problems = []
    for rule in alerts:
        url = urlparse(rule["annotations"]["runbook_url"])
        if url.path != BLOB + "docs/runbooks.md":
            problems.append(f"{rule['alert']}: {url.geturl()} is not docs/runbooks.md")
        elif headed.get(url.fragment) != rule["alert"]:
            problems.append(f"{rule['alert']}: docs/runbooks.md has no section "
                            f"`### {rule['alert']}` at #{url.fragment}")
    return problems


def readme_problems(root):
    lines = len((root / "README.md").read_text().splitlines())
    return [f"README.md has {lines} lines, more than {README_MAX_LINES}"] \
        if lines > README_MAX_LINES else []


def hash_problems(root):
    """Commit hashes in the documentation. The CHANGELOG may name commits, and the fixtures'
    notes name the commits of the sources their data was taken from."""
    return [f"{page.relative_to(root)}: {found}"
            for page in markdown.pages(root)
            if page.name != "CHANGELOG.md" and not page.is_relative_to(root / "tests")
            for found in markdown.commit_hashes(page.read_text())]


def test_every_relative_link_and_anchor_resolves():
    assert markdown.broken_links(REPO) == []


def test_every_alert_runbook_url_leads_to_its_section():
    assert runbook_problems(REPO, shipped_alerts(REPO)) == []
    # and those the mixin compiles only when asked for
    assert runbook_problems(REPO, readme_tables.every_alerting_rule()) == []


def test_the_readme_is_short():
    assert readme_problems(REPO) == []


def test_no_commit_hash_in_the_readme_or_docs():
    assert hash_problems(REPO) == []


# The same checks on a copy of the pages, each broken on purpose.

@pytest.fixture
def copy(tmp_path):
    """The pages, every file they link to, and the alert rules, in a fresh directory."""
    wanted = {page.relative_to(REPO) for page in markdown.pages(REPO)}
    wanted.add((REPO / "prometheus" / "alerts.yml").relative_to(REPO))
    for page in markdown.pages(REPO):
        for _, target in markdown.links(page.read_text()):
            path = (page.parent / target.partition("#")[0]).resolve()
            if not markdown.EXTERNAL.match(target) and path.is_file():
                wanted.add(path.relative_to(REPO))
    for relative in wanted:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / relative, tmp_path / relative)
    assert markdown.broken_links(tmp_path) == []
    assert runbook_problems(tmp_path, shipped_alerts(tmp_path)) == []
    assert readme_problems(tmp_path) == hash_problems(tmp_path) == []
    return tmp_path


def append(path, text):
    path.write_text(path.read_text() + text)


@pytest.mark.parametrize("link, why", [
    ("[gone](missing.md)", "no such file"),
    ("[gone](../deploy/nowhere/)", "no such file"),
    ("[up](../../outside.md)", "outside the repository"),
    ("[here](#no-such-section)", "no anchor #no-such-section in docs/metrics.md"),
    ("[there](runbooks.md#bybitnosuchalert)", "no anchor #bybitnosuchalert in docs/runbooks.md"),
    ("[case](runbooks.md#BybitExporterDown)", "no anchor #BybitExporterDown"),
    ("![image](no-such.png)", "no such file"),
    ('<a href="scaling.md#nowhere">x</a>', "no anchor #nowhere in docs/scaling.md"),
    ("[ref]: configuration.md#nowhere", "no anchor #nowhere in docs/configuration.md"),
])
def test_a_broken_link_is_caught(copy, link, why):
    append(copy / "docs" / "metrics.md", f"\n{link}\n")
    problems = markdown.broken_links(copy)
    assert len(problems) == 1 and why in problems[0], problems


def test_links_in_code_are_not_links(copy):
    append(copy / "docs" / "metrics.md", "\n`[x](missing.md)`\n\n```\n[x](missing.md)\n```\n")
    assert markdown.broken_links(copy) == []


@pytest.mark.parametrize("heading, good, bad", [
    ("## Across restarts: --storage.path", "across-restarts---storagepath",
     "across-restarts-storage-path"),
    ("## The `bybit_up` series (per account)", "the-bybit_up-series-per-account",
     "the-bybit-up-series-per-account"),
    ("### BybitExporterDown", "bybitexporterdown", "BybitExporterDown"),
    ('<a id="Kept-As-Written"></a>', "Kept-As-Written", "kept-as-written"),
    ('<a name="old-name"></a>', "old-name", "old_name"),
])
def test_anchors_follow_githubs_rules(copy, heading, good, bad):
    append(copy / "docs" / "scaling.md", f"\n{heading}\n\n[good](#{good})\n")
    assert markdown.broken_links(copy) == []
    append(copy / "docs" / "scaling.md", f"\n[bad](#{bad})\n")
    assert markdown.broken_links(copy) == [
        f"docs/scaling.md:{len((copy / 'docs' / 'scaling.md').read_text().splitlines())}: "
        f"#{bad}: no anchor #{bad} in docs/scaling.md"]


def test_a_repeated_heading_gets_a_number(copy):
    append(copy / "docs" / "scaling.md",
           "\n## Twice\n\n## Twice\n\n[first](#twice) [second](#twice-1)\n")
    assert markdown.broken_links(copy) == []
    append(copy / "docs" / "scaling.md", "\n[third](#twice-2)\n")
    assert len(markdown.broken_links(copy)) == 1


def test_an_alert_without_its_section_is_caught(copy):
    runbooks = copy / "docs" / "runbooks.md"
    runbooks.write_text(runbooks.read_text().replace("### BybitExporterMissing\n",
                                                     "### Exporter missing\n"))
    assert runbook_problems(copy, shipped_alerts(copy)) == [
        "BybitExporterMissing: docs/runbooks.md has no section `### BybitExporterMissing` at "
        "#bybitexportermissing"]


def test_a_runbook_url_elsewhere_is_caught(copy):
    alerts = copy / "prometheus" / "alerts.yml"
    alerts.write_text(alerts.read_text().replace("docs/runbooks.md#bybitexporterdown",
                                                 "README.md#runbook-exporter-down"))
    problems = runbook_problems(copy, shipped_alerts(copy))
    assert len(problems) == 1 and problems[0].startswith("BybitExporterDown:"), problems


def test_a_long_readme_is_caught(copy):
    append(copy / "README.md", "more\n" * README_MAX_LINES)
    assert readme_problems(copy) == [
        f"README.md has {len((copy / 'README.md').read_text().splitlines())} lines, "
        f"more than {README_MAX_LINES}"]


def test_a_commit_hash_is_caught_but_not_colours_digests_numbers_or_words(copy):
    digest = "sha256:" + "0123456789abcdef" * 4
    append(copy / "docs" / "performance.md",
           f"\ncolour #1f77b4ff, {digest}, 170405 samples, a decade, 1234567890\n")
    assert hash_problems(copy) == []
    append(copy / "docs" / "performance.md", "\nmeasured on 7e505a7 (see da39a3ee5e6b4b0d3255bfef95601890afd80709)\n")
    assert hash_problems(copy) == ["docs/performance.md: 7e505a7",
                                   "docs/performance.md: da39a3ee5e6b4b0d3255bfef95601890afd80709"]
    append(copy / "CHANGELOG.md", "\n- fixed in 7e505a7\n")
    append(copy / "tests" / "fixtures" / "answers" / "README.md", "\ncaptured at 7e505a7\n")
    assert len(hash_problems(copy)) == 2
