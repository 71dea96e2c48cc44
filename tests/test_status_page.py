"""The status page at `/`: what it shows of a running exporter, and how a real browser (Debian's
headless Chromium) renders it, Bybit's own words included."""

import re
import textwrap
import urllib.parse

from exporter.simulator import KeyInfo, without
from exporter.web.status import FAILING, PENDING, UP, StatusView, TargetRow, age, render
from tests.browser import Browser
from tests.conftest import debian_tool, sample, unified_account, wait_for
from tests.faults import HTML_RET_MSG, MessageAccount, MessageSimulator

NOW = 1_800_000_000.0


def view(*rows: TargetRow, **facts) -> StatusView:
    defaults = dict(now=NOW, version="1.2.3", revision="0123456789abcdef", shard=1,
                    total_shards=4, reload_ok=True, reload_success_time=NOW - 90,
                    web_config_ok=True, budget_in_use=17, budget_limit=400, budget_window=5.0)
    return StatusView(**{**defaults, **facts}, rows=rows)


# -- the rendering, from a view --------------------------------------------------------------

def details(page: str) -> list[tuple[str, str, bool]]:
    """Each account's fold, in page order: (account, its state, unfolded)."""
    found = re.findall(r'<details class="account (\w+)"( open)?><summary>.*?'
                       r'<span class="acct">(.*?)</span>', page)
    return [(name, state, bool(opened)) for state, opened, name in found]


def test_accounts_with_a_failing_collector_come_first_and_unfolded():
    page = render(view(
        TargetRow("alpha", "wallet", (("account_type", "UNIFIED"),), UP, last_success=NOW - 4,
                  interval=30, next_poll=NOW + 26, rate_limit_remaining=49),
        TargetRow("alpha", "positions", (), UP, last_success=NOW - 3, interval=30),
        TargetRow("zulu", "wallet", (("account_type", "UNIFIED"),), UP, last_success=NOW - 2,
                  interval=30),
        TargetRow("zulu", "assets", (), FAILING, reason="permission",
                  message="Permission denied, please check your API key permissions.",
                  last_success=None, interval=300, next_poll=NOW + 600),
        TargetRow("beta", "api_key", (), PENDING, interval=3600),
    )).decode()
    assert details(page) == [("zulu", FAILING, True), ("beta", PENDING, False),
                             ("alpha", UP, False)]
    zulu = page[page.index('<span class="acct">zulu</span>'):page.index("</details>")]
    assert '1 of 2 failing</span><span class="notes"><span class="reason">permission</span> ' \
           'assets</span></summary>' in zulu
    assert zulu.index('<tr class="failing">') < zulu.index('<tr class="up">')  # its own order
    assert "Permission denied, please check your API key permissions." in zulu
    assert "2 collectors up" in page and "1 of 1 pending" in page
    assert "4s ago" in page and "in 10m" in page and "never" in page
    assert "account_type=UNIFIED" in page and ">49<" in page
    assert "1 of 4" in page and "17 of 400 per 5 s" in page and "0123456789ab" in page
    assert "<b>3</b> accounts, <b>5</b> targets" in page
    assert "<b>1</b> failing</span> in <b>1</b> account" in page
    assert "<script" not in page.lower()
    for link in ('href="metrics"', 'href="-/healthy"', 'href="-/ready"'):
        assert link in page


FUND = [TargetRow(name, collector, (), state, reason="auth" if state == FAILING else "",
                  interval=30)
        for name, state in (("Fund-Alpha-01", UP), ("fund-alpha-02", FAILING),
                            ("fund-beta-01", FAILING), ("fund-beta-02", UP))
        for collector in ("wallet", "positions")]


def test_the_filter_shows_the_accounts_holding_it_in_their_name_in_any_case_unfolded():
    page = render(view(*FUND), "ALPHA ").decode()
    assert details(page) == [("fund-alpha-02", FAILING, True), ("Fund-Alpha-01", UP, True)]
    assert 'name="account" type="search" value="ALPHA"' in page  # as typed, trimmed
    assert "2 of 4 accounts shown" in page and 'href="?">Show all</a>' in page
    assert "<b>4</b> accounts, <b>8</b> targets" in page  # the header counts the shard
    assert [name for name, _, _ in details(render(view(*FUND), "fund-beta-02").decode())] \
        == ["fund-beta-02"]  # a whole name finds that account
    unfiltered = render(view(*FUND)).decode()
    assert [opened for _, _, opened in details(unfiltered)] == [True, True, False, False]
    assert 'value=""' in unfiltered and "Show all" not in unfiltered
    assert "No account matches &ldquo;gamma&rdquo;." in render(view(*FUND), "gamma").decode()


def test_every_config_bybit_or_request_text_is_escaped():
    evil = '<img src=x onerror=alert(1)>"&'
    page = render(view(
        TargetRow(evil, evil, ((evil, evil),), FAILING, reason=evil, message=evil,
                  unreadable=((evil, evil),)),
        version=evil, revision=evil), account=evil).decode()
    assert "<img" not in page and 'onerror=alert(1)>"' not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;&quot;&amp;") >= 11
    nothing = render(view(), account=evil).decode()
    assert "<img" not in nothing and nothing.count("&lt;img src=x") == 2  # form, message


def test_refused_reloads_show_as_failed():
    page = render(view(reload_ok=False, web_config_ok=False)).decode()
    assert "failed: the previous config is in force" in page
    assert "last reload failed: the previous one is in force" in page
    assert "No accounts in this shard." in page


def test_ages_read_in_two_units():
    assert [age(s) for s in (0, 59.9, 60, 65, 3600, 3660, 90000)] == \
        ["0s", "59s", "1m", "1m 5s", "1h", "1h 1m", "1d 1h"]


# -- the page of a running exporter ----------------------------------------------------------

def config_for(path, sim, accounts):
    lines = ["poll_interval: 1s", "timeout: 2s", "accounts:"]  # names: config allows no markup
    for name, key, secret, collect in accounts:
        lines += [f"  - name: '{name}'", f"    api_key: {key}", f"    api_secret: {secret}",
                  f"    endpoint: {sim.url}", f"    collect: [{', '.join(collect)}]"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_page_names_what_is_wrong_and_no_secret(simulator, tmp_path, exporter_process):
    good = unified_account("GOODKEY01", "good-secret-01")
    walletless = unified_account("NOWALLET02", "nowallet-secret-02")
    walletless.key = KeyInfo(permissions=without("Wallet"))
    sim = simulator([good, walletless])
    config = config_for(tmp_path / "c.yaml", sim, [
        ("good", "GOODKEY01", "good-secret-01", ("wallet", "funding")),
        ("no-wallet", "NOWALLET02", "nowallet-secret-02", ("wallet", "funding"))])
    exporter = exporter_process(["--config.file", str(config)])
    exporter.wait_ready()
    page = exporter.get("/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    text = page.text
    # the account with a refused collector first and unfolded, though "good" sorts first
    assert details(text) == [("no-wallet", FAILING, True), ("good", UP, False)]
    assert '<span class="reason">permission</span>' in text
    assert "Permission denied, please check your API key permissions." in text
    assert text.count('<tr class="up">') == 3 and text.count('<tr class="failing">') == 1
    filtered = exporter.get("/", params={"account": "WALLET"}).text
    assert details(filtered) == [("no-wallet", FAILING, True)]
    assert 'value="WALLET"' in filtered and "1 of 2 accounts shown" in filtered
    assert '<span class="dim">&ndash;</span>' not in text  # every target's next poll is known
    assert " of 400 per 5 s" in text and "0 of 1" in text
    for secret in ("GOODKEY01", "good-secret-01", "NOWALLET02", "nowallet-secret-02"):
        assert secret not in text
    assert sample(exporter.samples(), "bybit_exporter_web_config_last_reload_successful") == 1.0


# -- in a real browser -----------------------------------------------------------------------

def browser(tmp_path) -> Browser:
    return Browser(debian_tool("chromium", "chromium"), tmp_path / "chromium")


FOLDS = ("[...document.querySelectorAll('details.account')].map("
         "d => [d.querySelector('.acct').textContent, d.open])")


def test_in_chromium_the_failing_account_comes_first_open_and_the_rest_folded(
        exporter_process, tmp_path):
    exporter = exporter_process(["--demo"])
    exporter.wait_ready()
    wait_for(lambda: sample(exporter.samples(), "bybit_collector_up", account="demo-classic",
                            collector="assets") == 0.0)
    with browser(tmp_path) as page:
        page.open(exporter.url + "/")
        assert page.value(FOLDS) == [["demo-classic", True], ["demo-isolated", False],
                                     ["demo-leveraged", False], ["demo-options", False],
                                     ["demo-unified", False]]
        seen = page.visible_text()
        assert "Permission denied, please check your API key permissions." in seen
        assert "demo-unified" in seen and "members" not in seen  # only its collectors have it
        page.click("details.account:last-of-type > summary")  # a person unfolds it
        assert page.value(FOLDS)[-1] == ["demo-unified", True]
        assert "members" in page.visible_text()
        assert "DEMOKEY" not in page.value("document.documentElement.outerHTML")
        shot = tmp_path / "page.png"
        page.screenshot(shot)
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 10_000


def test_in_chromium_the_filter_form_finds_an_account_by_part_of_its_name(
        exporter_process, tmp_path):
    exporter = exporter_process(["--demo"])
    exporter.wait_ready()
    with browser(tmp_path) as page:
        page.open(exporter.url + "/")
        page.click("#account")
        page.type("LEVER")
        page.press_enter()  # the plain GET form: no script
        page.wait_for_load()
        assert page.value("location.pathname + location.search") == "/?account=LEVER"
        assert page.value(FOLDS) == [["demo-leveraged", True]]
        seen = page.visible_text()
        assert "positions" in seen and "demo-unified" not in seen
        assert "1 of 5 accounts shown" in seen
        assert page.value("document.querySelector('#account').value") == "LEVER"
        evil = '"><img src=x onerror=alert(1)>'
        page.open(exporter.url + "/?account=" + urllib.parse.quote(evil))
        assert page.value("document.querySelector('#account').value") == evil
        assert page.value("document.querySelectorAll('img').length") == 0
        assert f"No account matches \u201c{evil}\u201d." in page.visible_text()


def test_a_bybit_message_carrying_html_shows_as_text_in_chromium(exporter_process, tmp_path):
    refused = MessageAccount(api_key="HTMLKEY01", secret="html-secret-01", wallets={})
    sim = MessageSimulator([refused]).start()
    try:
        config = config_for(tmp_path / "c.yaml", sim,
                            [("html", "HTMLKEY01", "html-secret-01", ("account_info",))])
        exporter = exporter_process(["--config.file", str(config)])
        exporter.wait_ready()
        with browser(tmp_path) as page:
            page.open(exporter.url + "/")
            seen = page.visible_text()
            elements = page.value("[...document.querySelectorAll('.msg *, img, script')]"
                                  ".map(e => e.tagName)")
            reasons = page.value("[...document.querySelectorAll('.reason')]"
                                 ".map(e => e.textContent)")
    finally:
        sim.stop()
    assert HTML_RET_MSG in seen  # as text, every character of it
    assert elements == []  # none of it became an element
    assert reasons == ["api", "api"]  # in the account's line and in its collector's row
