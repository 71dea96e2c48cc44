"""The status page at `/`: what it shows of a running exporter, and how a real browser (Debian's
headless Chromium) renders it, Bybit's own words included."""

import subprocess
import textwrap

import pytest

from exporter.simulator import KeyInfo, without
from exporter.web.status import FAILING, PENDING, UP, StatusView, TargetRow, age, render
from tests.conftest import debian_tool, sample, unified_account, wait_for
from tests.faults import MessageAccount, MessageSimulator

NOW = 1_800_000_000.0


def view(*rows: TargetRow, **facts) -> StatusView:
    defaults = dict(now=NOW, version="1.2.3", revision="0123456789abcdef", shard=1,
                    total_shards=4, reload_ok=True, reload_success_time=NOW - 90,
                    web_config_ok=True, budget_in_use=17, budget_limit=400, budget_window=5.0)
    return StatusView(**{**defaults, **facts}, rows=rows)


# -- the rendering, from a view --------------------------------------------------------------

def test_failing_rows_come_first_with_reason_message_and_ages():
    page = render(view(
        TargetRow("alpha", "wallet", (("account_type", "UNIFIED"),), UP, last_success=NOW - 4,
                  interval=30, next_poll=NOW + 26, rate_limit_remaining=49),
        TargetRow("zulu", "assets", (), FAILING, reason="permission",
                  message="Permission denied, please check your API key permissions.",
                  last_success=None, interval=300, next_poll=NOW + 600),
        TargetRow("beta", "api_key", (), PENDING, interval=3600),
    )).decode()
    order = [page.index(f'<td class="acct">{name}</td>') for name in ("zulu", "beta", "alpha")]
    assert order == sorted(order)  # failing, then not yet polled, then up
    assert "Permission denied, please check your API key permissions." in page
    assert '<span class="reason">permission</span>' in page
    assert "4s ago" in page and "in 10m" in page and "never" in page
    assert "account_type=UNIFIED" in page and ">49<" in page
    assert "1 of 4" in page and "17 of 400 per 5 s" in page and "0123456789ab" in page
    assert "<b>3</b> accounts, <b>3</b> targets" in page and "<b>1</b> failing" in page
    assert "<script" not in page.lower()
    for link in ('href="metrics"', 'href="-/healthy"', 'href="-/ready"'):
        assert link in page


def test_every_config_or_bybit_text_is_escaped():
    evil = '<img src=x onerror=alert(1)>"&'
    page = render(view(
        TargetRow(evil, evil, ((evil, evil),), FAILING, reason=evil, message=evil,
                  unreadable=((evil, evil),)),
        version=evil, revision=evil)).decode()
    assert "<img" not in page and 'onerror=alert(1)>"' not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;&quot;&amp;") >= 8


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
    # the refused collector's row first, though "good" sorts before "no-wallet"
    assert text.index('<td class="acct">no-wallet</td>') < text.index('<td class="acct">good</td>')
    assert '<span class="reason">permission</span>' in text
    assert "Permission denied, please check your API key permissions." in text
    assert text.count('<tr class="up">') == 3 and text.count('<tr class="failing">') == 1
    assert '<span class="dim">&ndash;</span>' not in text  # every target's next poll is known
    assert " of 400 per 5 s" in text and "0 of 1" in text
    for secret in ("GOODKEY01", "good-secret-01", "NOWALLET02", "nowallet-secret-02"):
        assert secret not in text
    assert sample(exporter.samples(), "bybit_exporter_web_config_last_reload_successful") == 1.0


# -- in a real browser -----------------------------------------------------------------------

def chromium() -> str:
    return debian_tool("chromium", "chromium")


def browse(url: str, tmp_path, *what: str) -> str:
    """Headless Chromium loading `url`: its DOM after load (--dump-dom), or what `what` asks
    (e.g. --screenshot=FILE)."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1400,900", *(what or ("--dump-dom",)), url]
    done = subprocess.run(args, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_demo_page_in_chromium_shows_the_refused_collector(exporter_process, tmp_path):
    exporter = exporter_process(["--demo"])
    exporter.wait_ready()
    wait_for(lambda: sample(exporter.samples(), "bybit_collector_up", account="demo-classic",
                            collector="assets") == 0.0)
    dom = browse(exporter.url + "/", tmp_path)
    assert "<h1>Bybit Exporter</h1>" in dom
    for name in ("demo-unified", "demo-classic", "demo-leveraged", "demo-isolated"):
        assert f'<td class="acct">{name}</td>' in dom
    first_row = dom.index('<tr class="')
    assert dom.startswith('<tr class="failing"><td><span class="badge failing">FAILING', first_row)
    assert "demo-classic" in dom[first_row:dom.index("</tr>", first_row)]
    assert '<span class="reason">permission</span>' in dom
    assert "Permission denied, please check your API key permissions." in dom
    assert "DEMOKEY" not in dom
    shot = tmp_path / "page.png"
    browse(exporter.url + "/", tmp_path, f"--screenshot={shot}")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 10_000


def test_a_bybit_message_carrying_html_shows_as_text_in_chromium(exporter_process, tmp_path):
    refused = MessageAccount(api_key="HTMLKEY01", secret="html-secret-01", wallets={})
    sim = MessageSimulator([refused]).start()
    try:
        config = config_for(tmp_path / "c.yaml", sim,
                            [("html", "HTMLKEY01", "html-secret-01", ("account_info",))])
        exporter = exporter_process(["--config.file", str(config)])
        exporter.wait_ready()
        dom = browse(exporter.url + "/", tmp_path)
    finally:
        sim.stop()
    assert "<img" not in dom and "<script" not in dom and "<b>not bold" not in dom
    # the message, as text: the DOM serializer escapes it again
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;not bold&lt;/b&gt; &amp; " in dom
    assert '<span class="reason">api</span>' in dom
