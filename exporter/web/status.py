"""The status page at `/`: a plain view of every target of this shard and of the exporter
itself, rendered to HTML. Pure: a StatusView in, bytes out; no JavaScript. Every text that
came from a config or from Bybit (account names, labels, messages, field previews) is escaped."""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape

LINKS = (("metrics", "Metrics"), ("-/healthy", "Health"), ("-/ready", "Readiness"))
FAILING, PENDING, UP = "failing", "pending", "up"
_ORDER = {FAILING: 0, PENDING: 1, UP: 2}
_UNITS = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))


@dataclass(frozen=True)
class TargetRow:
    """One collector of one account (with its own labels, e.g. account_type)."""

    account: str
    collector: str
    labels: tuple[tuple[str, str], ...]
    state: str  # FAILING, PENDING (no poll has ended yet) or UP
    reason: str = ""  # why the last poll failed
    message: str = ""  # what Bybit (or the network) said of it
    last_success: float | None = None  # Unix time
    interval: float = 0.0  # seconds, in force
    next_poll: float | None = None  # Unix time
    unreadable: tuple[tuple[str, str], ...] = ()  # (field, preview of its value)
    rate_limit_remaining: int | None = None
    stale: bool = False  # its values are no longer served


@dataclass(frozen=True)
class StatusView:
    now: float  # Unix time the view was taken
    version: str
    revision: str
    shard: int
    total_shards: int
    reload_ok: bool
    reload_success_time: float | None
    web_config_ok: bool
    budget_in_use: int  # requests in Bybit's window now
    budget_limit: int
    budget_window: float  # seconds
    rows: tuple[TargetRow, ...]


def render(view: StatusView) -> bytes:
    rows = sorted(view.rows, key=lambda r: (_ORDER.get(r.state, 0), r.account, r.collector,
                                            r.labels))
    failing = sum(1 for row in rows if row.state == FAILING)
    parts = [_HEAD, _header(view, rows, failing), _TABLE_HEAD]
    parts.extend([_row(row, view.now) for row in rows] or [_NO_ROWS])
    parts.append(_FOOT)
    return "".join(parts).encode()


def age(seconds: float) -> str:
    """A duration in its two largest units: 3s, 4m 5s, 5m, 2h 10m, 3d 4h."""
    s = max(0, int(seconds))
    for (size, name), (smaller, small_name) in zip(_UNITS, _UNITS[1:]):
        if s >= size:
            rest = s % size // smaller
            return f"{s // size}{name} {rest}{small_name}" if rest else f"{s // size}{name}"
    return f"{s}s"


def utc(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def _header(view: StatusView, rows: list[TargetRow], failing: int) -> str:
    accounts = len({row.account for row in rows})
    reload = ("OK" if view.reload_ok else "failed: the previous config is in force")
    if view.reload_success_time is not None:
        reload += f", last loaded {age(view.now - view.reload_success_time)} ago"
    facts = (
        ("Version", escape(view.version)),
        ("Revision", f'<span class="mono" title="{escape(view.revision)}">'
                     f"{escape(view.revision[:12])}</span>"),
        ("Shard", f"{view.shard} of {view.total_shards}"),
        ("Config reload", _good(view.reload_ok, reload)),
        ("Web config", _good(view.web_config_ok, "OK" if view.web_config_ok else
                             "last reload failed: the previous one is in force")),
        ("Request budget in use", f"{view.budget_in_use} of {view.budget_limit} per "
                                  f"{view.budget_window:g} s"),
    )
    summary = (f'<p class="summary"><b>{accounts}</b> account{"s" * (accounts != 1)}, '
               f'<b>{len(rows)}</b> target{"s" * (len(rows) != 1)}: '
               f'<span class="{"bad" if failing else "ok"}"><b>{failing}</b> failing</span>'
               f' &middot; as of {utc(view.now)}</p>')
    nav = " ".join(f'<a href="{href}">{label}</a>' for href, label in LINKS)
    cards = "".join(f'<div class="fact"><div class="k">{key}</div><div class="v">{value}</div>'
                    f"</div>" for key, value in facts)
    return (f'<header><h1>Bybit Exporter</h1><nav>{nav}</nav></header><main>'
            f'<section class="facts">{cards}</section>{summary}')


def _good(ok: bool, text: str) -> str:
    return f'<span class="{"ok" if ok else "bad"}">{escape(text)}</span>'


def _row(row: TargetRow, now: float) -> str:
    state = row.state if row.state in _ORDER else FAILING  # it names a CSS class
    labels = "".join(f'<span class="label">{escape(k)}={escape(v)}</span>'
                     for k, v in row.labels)
    if row.last_success is None:
        last = '<span class="dim">never</span>'
    else:
        last = (f'<span title="{utc(row.last_success)}">{age(now - row.last_success)} ago'
                f'{" (stale)" if row.stale else ""}</span>')
    if row.next_poll is None:
        next_poll = '<span class="dim">&ndash;</span>'
    else:
        due = row.next_poll - now
        next_poll = f"in {age(due)}" if due >= 1 else "due"
    remaining = "" if row.rate_limit_remaining is None else str(row.rate_limit_remaining)
    unreadable = "".join(f'<div><span class="mono">{escape(name)}</span> '
                         f'<span class="dim">{escape(preview)}</span></div>'
                         for name, preview in row.unreadable)
    problem = ""
    if row.reason:
        problem = (f'<span class="reason">{escape(row.reason)}</span> '
                   f'<span class="msg">{escape(row.message)}</span>')
    return (f'<tr class="{state}"><td><span class="badge {state}">'
            f'{state.upper()}</span></td><td class="acct">{escape(row.account)}</td>'
            f'<td>{escape(row.collector)} {labels}</td><td>{last}</td>'
            f'<td>{age(row.interval)}</td><td>{next_poll}</td><td class="num">{remaining}</td>'
            f'<td class="wrap">{unreadable}</td><td class="wrap problem">{problem}</td></tr>\n')


_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1f2933;background:#f5f7fa}
header{display:flex;align-items:center;gap:24px;padding:12px 24px;background:#1f2933;color:#fff}
header h1{margin:0;font-size:20px;font-weight:600;letter-spacing:.2px}
header h1::before{content:"";display:inline-block;width:12px;height:12px;margin-right:10px;
border-radius:3px;background:#f7a600}
nav a{color:#cbd2d9;margin-right:16px;text-decoration:none}nav a:hover{color:#fff}
main{padding:16px 24px}
.facts{display:flex;flex-wrap:wrap;gap:12px}
.fact{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:8px 14px;min-width:150px}
.fact .k{font-size:12px;color:#7b8794;text-transform:uppercase;letter-spacing:.4px}
.fact .v{font-size:15px;font-weight:500}
.summary{margin:16px 0 8px}
.ok{color:#137333}.bad{color:#c5221f}.dim{color:#9aa5b1}
.mono,.reason,.label{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12.5px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #e4e7eb}
th{position:sticky;top:0;background:#e4e7eb;text-align:left;font-weight:600;font-size:12.5px;
padding:6px 10px;white-space:nowrap}
td{padding:6px 10px;border-top:1px solid #eef1f4;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal}td.problem{min-width:18em}
td.num{text-align:right}td.acct{font-weight:600}
tr.failing td{background:#fdf0ef}
.badge{display:inline-block;min-width:66px;text-align:center;padding:1px 6px;border-radius:10px;
font-size:11.5px;font-weight:700;color:#fff}
.badge.up{background:#2e9e4f}.badge.failing{background:#d93025}.badge.pending{background:#9aa5b1}
.label{background:#eef1f4;border-radius:4px;padding:0 5px;margin-left:4px;color:#52606d}
.reason{background:#fbd9d6;color:#a50e0e;border-radius:4px;padding:0 5px;font-weight:600}
.msg{word-break:break-word}
"""
_HEAD = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
         '<meta name="viewport" content="width=device-width, initial-scale=1">'
         f"<title>Bybit Exporter</title><style>{_CSS}</style></head><body>")
_TABLE_HEAD = ("<table><thead><tr><th>State</th><th>Account</th><th>Collector</th>"
               "<th>Last success</th><th>Interval</th><th>Next poll</th>"
               "<th>Rate limit left</th><th>Unreadable fields</th><th>Failure: reason, "
               "Bybit's message</th></tr></thead><tbody>\n")
_NO_ROWS = '<tr><td colspan="9" class="dim">No accounts in this shard.</td></tr>'
_FOOT = "</tbody></table></main></body></html>\n"
