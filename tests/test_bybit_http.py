"""What the client does with HTTP answers Bybit documents and a few it never sends: a retCode in
a 4xx body, redirects, its User-Agent, and which timeout measures Bybit's clock."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from exporter import __version__
from exporter.bybit.budget import RequestBudget
from exporter.bybit.client import BybitClient
from exporter.bybit.clock import ServerClock
from exporter.bybit.errors import PollError
from tests.test_client import make_client, wallet_balance


class Recorder(ThreadingHTTPServer):
    """A tiny HTTP server: answers every GET with (status, headers, body) and records the
    requests it got."""

    daemon_threads = True

    def __init__(self, status=200, headers=None, body=b"{}", delay=0.0):
        self.answer = (status, headers or {}, body)
        self.delay = delay
        self.requests: list[tuple[str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append((self.path, dict(self.headers)))
        time.sleep(self.server.delay)
        status, headers, body = self.server.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the client gave up first: a timeout, on purpose
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers():
    started = []

    def start(*args, **kwargs):
        started.append(Recorder(*args, **kwargs))
        return started[-1]

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def test_a_retcode_in_a_400_answer_decides_the_reason(servers):
    body = json.dumps({"retCode": 10001, "retMsg": "accountType only support UNIFIED",
                       "result": {}, "time": 1}).encode()
    bybit = servers(400, {"Content-Type": "application/json"}, body)
    with pytest.raises(PollError) as caught:
        wallet_balance(make_client(bybit.url), "CONTRACT")
    assert (caught.value.reason, caught.value.ret_code) == ("api", 10001)
    assert "only support UNIFIED" in caught.value.message


def test_a_400_without_a_retcode_is_still_http(servers):
    bybit = servers(400, {"Content-Type": "text/html"}, b"<html>bad request</html>")
    with pytest.raises(PollError) as caught:
        wallet_balance(make_client(bybit.url), "UNIFIED")
    assert (caught.value.reason, caught.value.message) == ("http", "HTTP 400")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed_and_the_signed_headers_stay_home(servers, status):
    elsewhere = servers(200, {}, b'{"retCode":0,"result":{"list":[]}}')
    bybit = servers(status, {"Location": elsewhere.url + "/v5/account/wallet-balance"}, b"")
    with pytest.raises(PollError) as caught:
        wallet_balance(make_client(bybit.url), "UNIFIED")
    assert caught.value.reason == "http" and "redirect" in caught.value.message
    assert elsewhere.requests == []
    assert any("X-BAPI-API-KEY" in headers for _, headers in bybit.requests)


def test_requests_say_who_sends_them(servers):
    bybit = servers(200, {}, b'{"retCode":0,"result":{"list":[]}}')
    wallet_balance(make_client(bybit.url), "UNIFIED")
    assert {headers["User-Agent"] for _, headers in bybit.requests} == {
        f"bybit-exporter/{__version__}"}


def test_bybits_clock_is_measured_with_the_clients_timeout_not_an_old_one(servers):
    now = int(time.time() * 1000) + 4000
    slow_bybit = servers(200, {}, json.dumps({"retCode": 0, "result": {
        "timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, "time": now}).encode(),
        delay=0.6)
    clock = ServerClock(slow_bybit.url)  # one clock per host, shared across reloads
    short = make_client(slow_bybit.url, timeout=0.3)
    short.clock = clock
    with pytest.raises(PollError):
        wallet_balance(short, "UNIFIED")  # the clock could not be measured within 0.3 s
    assert clock.synced_at is None
    account = short.account
    longer = BybitClient(account, clock, RequestBudget(), timeout=3.0)  # after a reload
    wallet_balance(longer, "UNIFIED")
    assert clock.synced_at is not None and abs(clock.offset_ms - 4000) < 1500
