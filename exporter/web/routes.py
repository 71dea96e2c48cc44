"""The endpoints, apart from sockets: (method, target, headers) -> Response.

/metrics, the status page at /, /-/healthy, /-/ready and POST /-/reload. Scrapes never call
Bybit."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlsplit

from exporter.web.protocol import TEXT
from exporter.web.status import StatusView, render as render_status
from exporter.web.webconfig import WebConfig

log = logging.getLogger("exporter.web")

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LANDING_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Bybit Exporter</title></head>
<body><h1>Bybit Exporter</h1>
<p>Prometheus exporter for Bybit V5 accounts: balances, margin, positions, keys.</p>
<ul><li><a href="metrics">Metrics</a></li>
<li><a href="-/healthy">Health</a></li><li><a href="-/ready">Readiness</a></li></ul>
</body></html>
"""
OPEN_PATHS = ("/-/healthy", "/-/ready")  # probes: no balances behind them, no auth needed
RELOAD_PATH = "/-/reload"
GET_PATHS = ("/", "/metrics", *OPEN_PATHS)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LIFECYCLE_DISABLED = (b"Lifecycle API is not enabled: start the exporter with "
                      b"--web.enable-lifecycle to reload over HTTP, or send it SIGHUP.\n")
CROSS_ORIGIN = b"Cross-origin request refused: the Origin header does not match the Host.\n"
HTML = "text/html; charset=utf-8"
# The status page needs no script, image or font: a browser is told to load none.
PAGE_HEADERS = (("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
                ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"),
                ("Referrer-Policy", "no-referrer"))


@dataclass(frozen=True)
class WebApp:
    """What the service gives the web server."""

    render_metrics: Callable[[bool], bytes]  # gzip wanted -> body
    ready: Callable[[], bool]
    reload: Callable[[], tuple[bool, list[str]]] | None = None  # None: lifecycle disabled
    status: Callable[[], StatusView] | None = None  # None: a page of links only


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]  # Content-Type, Content-Length and the like
    body: bytes


def handle(app: WebApp, web: WebConfig, method: str, target: str,
           headers: Mapping[str, str]) -> Response:
    """The answer to one request. Header names may come in any case. HEAD is GET without
    the body (Content-Length still says how long it would be)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    path = _path(target)
    if path not in OPEN_PATHS and not web.authorized(lowered.get("authorization")):
        response = unauthorized()
    elif path == RELOAD_PATH:
        response = _reload(app, method, lowered)
    elif path in GET_PATHS and method not in ("GET", "HEAD"):
        response = text(405, b"Method not allowed\n", ("Allow", "GET, HEAD"))
    else:
        response = _get(app, target, lowered)
    return replace(response, body=b"") if method == "HEAD" else response


def quick(web: WebConfig, method: str, target: str, headers: Mapping[str, str]) -> bool:
    """Whether handle() answers at once (a few ms at most): a compressed scrape without
    credentials to check. Header names may come in any case."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return (_path(target) == "/metrics" and method in ("GET", "HEAD")
            and not web.needs_auth and _wants_gzip(lowered))


def text(status: int, body: bytes, *extra: tuple[str, str]) -> Response:
    return Response(status, (("Content-Type", TEXT), ("Content-Length", str(len(body))), *extra),
                    body)


def unauthorized() -> Response:
    return text(401, b"Unauthorized\n",
                ("WWW-Authenticate", 'Basic realm="bybit-exporter", charset="UTF-8"'))


def _get(app: WebApp, target: str, headers: Mapping[str, str]) -> Response:
    path = _path(target)
    if path == "/metrics":
        return _metrics(app, _wants_gzip(headers))
    if path == "/":
        return _status_page(app, _wants_gzip(headers), _parameter(target, "account"))
    if path == "/-/healthy":
        return text(200, b"Healthy\n")
    if path == "/-/ready":
        if app.ready():
            return text(200, b"Ready\n")
        return text(503, b"Not ready: the first poll of every account is still running\n")
    return text(404, b"Not found\n")


def _path(target: str) -> str:
    return target.split("?", 1)[0]


def _parameter(target: str, name: str) -> str:
    """The first value of a query parameter ("" without one)."""
    query = target.split("?", 1)[1] if "?" in target else ""
    return parse_qs(query, keep_blank_values=True).get(name, [""])[0]


def _wants_gzip(lowered: Mapping[str, str]) -> bool:
    return "gzip" in lowered.get("accept-encoding", "")


def _metrics(app: WebApp, wants_gzip: bool) -> Response:
    try:
        body = app.render_metrics(wants_gzip)
    except Exception:
        log.exception("rendering /metrics failed")
        return text(500, b"Internal error while rendering metrics\n")
    headers = [("Content-Type", METRICS_CONTENT_TYPE), ("Content-Length", str(len(body))),
               ("Vary", "Accept-Encoding")]
    if wants_gzip:
        headers.append(("Content-Encoding", "gzip"))
    return Response(200, tuple(headers), body)


def _status_page(app: WebApp, wants_gzip: bool, account: str) -> Response:
    """The status page, its accounts filtered by `account` (part of a name); without a view
    of the service, a page of links."""
    if app.status is None:
        body = LANDING_PAGE
    else:
        try:
            body = render_status(app.status(), account)
        except Exception:
            log.exception("rendering the status page failed")
            return text(500, b"Internal error while rendering the status page\n")
    headers = [("Content-Type", HTML), *PAGE_HEADERS, ("Vary", "Accept-Encoding")]
    if wants_gzip:
        body = gzip.compress(body, compresslevel=1, mtime=0)
        headers.append(("Content-Encoding", "gzip"))
    return Response(200, (*headers, ("Content-Length", str(len(body)))), body)


def _reload(app: WebApp, method: str, headers: Mapping[str, str]) -> Response:
    """As Prometheus: POST or PUT, 403 unless --web.enable-lifecycle; and no cross-site posts
    (a web page in an operator's browser must not be able to trigger it)."""
    if method not in ("POST", "PUT"):
        return text(405, b"Only POST or PUT requests allowed\n", ("Allow", "POST, PUT"))
    if app.reload is None:
        return text(403, LIFECYCLE_DISABLED)
    if is_cross_origin(method, headers):
        return text(403, CROSS_ORIGIN)
    try:
        ok, problems = app.reload()
    except Exception:
        log.exception("reloading the config failed")
        return text(500, b"Internal error while reloading the config\n")
    if ok:
        return text(200, b"Config reloaded\n")
    return text(500, ("Config reload refused, the previous config keeps running:\n"
                      + "\n".join(problems) + "\n").encode())


def is_cross_origin(method: str, headers: Mapping[str, str]) -> bool:
    """Go's net/http CrossOriginProtection: a browser's Sec-Fetch-Site decides; without it, an
    Origin whose host[:port] is not the Host header's. Neither header (curl, scripts): allowed.
    `headers` has lower-case names."""
    if method in SAFE_METHODS:
        return False
    fetch_site = headers.get("sec-fetch-site", "")
    if fetch_site:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin", "")
    if not origin:
        return False
    try:
        origin_host = urlsplit(origin).netloc
    except ValueError:
        return True
    return not origin_host or origin_host.lower() != headers.get("host", "").lower()
