"""The web endpoints: /metrics, a landing page, /-/healthy, /-/ready and /-/reload.
Scrapes never call Bybit."""

from __future__ import annotations

import logging
import socket
import ssl
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from exporter.webconfig import WebConfig

log = logging.getLogger("exporter.http")

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LANDING_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Bybit Exporter</title></head>
<body><h1>Bybit Exporter</h1>
<p>Prometheus exporter for Bybit V5 wallet balances.</p>
<ul><li><a href="metrics">Metrics</a></li>
<li><a href="-/healthy">Health</a></li><li><a href="-/ready">Readiness</a></li></ul>
</body></html>
"""


OPEN_PATHS = ("/-/healthy", "/-/ready")  # probes: no balances behind them, no auth needed


@dataclass
class WebApp:
    render_metrics: Callable[[bool], bytes]  # gzip wanted -> body
    ready: Callable[[], bool]
    reload: Callable[[], tuple[bool, list[str]]] | None = None


class _Handler(BaseHTTPRequestHandler):
    app: WebApp
    web: WebConfig
    server_version = "bybit-exporter"
    sys_version = ""
    timeout = 30  # a client that stalls mid-request does not hold a thread for ever
    protocol_version = "HTTP/1.1"  # keep-alive for Prometheus

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            # in this thread, not in the accept loop: a stalled handshake blocks nobody else
            self.connection.settimeout(self.timeout)
            self.connection.do_handshake()

    def handle(self) -> None:
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as exc:
            log.debug("connection dropped", extra={"fields": {"client": self.client_address[0],
                                                             "error": type(exc).__name__}})

    def _allowed(self, path: str) -> bool:
        if path in OPEN_PATHS or self.web.authorized(self.headers.get("Authorization")):
            return True
        body = b"Unauthorized\n"
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="bybit-exporter", charset="UTF-8"')
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return False

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if not self._allowed(path):
            return
        if path != "/-/reload" or self.app.reload is None:
            self._send(404 if path != "/-/reload" else 405, b"Not found\n")
            return
        ok, problems = self.app.reload()
        if ok:
            self._send(200, b"Config reloaded\n")
        else:
            self._send(500, ("Config reload refused, the previous config keeps running:\n"
                             + "\n".join(problems) + "\n").encode())

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if not self._allowed(path):
            return
        if path == "/metrics":
            self._metrics()
        elif path == "/":
            self._send(200, LANDING_PAGE, "text/html; charset=utf-8")
        elif path == "/-/healthy":
            self._send(200, b"Healthy\n")
        elif path == "/-/ready":
            if self.app.ready():
                self._send(200, b"Ready\n")
            else:
                self._send(503, b"Not ready: the first poll of every account is still running\n")
        else:
            self._send(404, b"Not found\n")

    def _metrics(self) -> None:
        wants_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        try:
            body = self.app.render_metrics(wants_gzip)
        except Exception:
            log.exception("rendering /metrics failed")
            self._send(500, b"Internal error while rendering metrics\n")
            return
        self._send(200, body, METRICS_CONTENT_TYPE, "gzip" if wants_gzip else None)

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              encoding: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        log.debug("http request", extra={"fields": {"client": self.client_address[0],
                                                    "request": format % args}})


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # Prometheus replicas and probes connecting together


def parse_listen_address(text: str) -> tuple[str, int]:
    """'host:port', ':port' (every interface) or '[::1]:port'."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"must be HOST:PORT, e.g. :10788 or 127.0.0.1:10788 (got {text!r})")
    host = host.strip("[]")
    return host, int(port)


def serve(app: WebApp, host: str, port: int, web: WebConfig) -> MetricsServer:
    """Bind now (so a busy port fails at start); the caller runs serve_forever in a thread."""
    handler = type("Handler", (_Handler,), {"app": app, "web": web})
    server_class = MetricsServer
    if ":" in host:
        server_class = type("MetricsServer6", (MetricsServer,), {"address_family": socket.AF_INET6})
    server = server_class((host, port), handler)
    if web.ssl_context is not None:
        server.socket = web.ssl_context.wrap_socket(server.socket, server_side=True,
                                                    do_handshake_on_connect=False)
    return server
