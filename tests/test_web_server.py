"""exporter.web in process, with a fake app: routes, bounded threads and connections, deadlines,
several listen addresses, the lifecycle endpoint, basic auth and TLS."""

import gzip
import socket
import ssl
import threading
import time

import bcrypt
import pytest
import requests

from exporter import healthcheck
from exporter.web import connection, parse_listen_address, parse_listen_addresses, routes, serve
from exporter.web.routes import WebApp
from exporter.web.server import MAX_HANDSHAKES
from exporter.web.webconfig import WebConfig
from tests.certs import make_pki
from tests.conftest import free_port, wait_for

BODY = b"# HELP x A test.\n# TYPE x gauge\nx 1\n" * 100
PASSWORD = "scrape-pass-123"


class FakeApp:
    def __init__(self, delay: float = 0.0, lifecycle: bool = True):
        self.delay = delay
        self.reloads = 0
        self.is_ready = True
        self.web_app = WebApp(self.render, lambda: self.is_ready,
                              self.reload if lifecycle else None)

    def render(self, wants_gzip: bool) -> bytes:
        time.sleep(self.delay)
        return gzip.compress(BODY) if wants_gzip else BODY

    def reload(self) -> tuple[bool, list[str]]:
        self.reloads += 1
        return True, []


@pytest.fixture
def start():
    servers = []

    def run(app=None, addresses=(("127.0.0.1", 0),), web=None, **kwargs):
        app = app or FakeApp()
        server = serve(app.web_app, list(addresses), web or WebConfig(), **kwargs)
        server.url = f"http://127.0.0.1:{server.addresses[0][1]}"
        server.port = server.addresses[0][1]
        server.fake = app
        servers.append(server)
        return server

    yield run
    for server in servers:
        server.shutdown()


def half_open(port: int, count: int) -> list[socket.socket]:
    """Connections that each sent half a request head."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        sockets.append(sock)
    return sockets


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def raw_exchange(port: int, data: bytes) -> bytes:
    """Everything the server sends until it closes (the last request asks it to)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


# -- routes, without sockets ---------------------------------------------------------------

def handle(app, method="GET", path="/metrics", web=None, **headers):
    return routes.handle(app.web_app, web or WebConfig(), method, path,
                         {k.replace("_", "-"): v for k, v in headers.items()})


def test_routes_answer_every_endpoint():
    app = FakeApp()
    plain = handle(app)
    assert plain.status == 200 and plain.body == BODY
    assert dict(plain.headers)["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    zipped = handle(app, Accept_Encoding="gzip, deflate")
    assert dict(zipped.headers)["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == BODY
    head = handle(app, "HEAD")
    assert head.body == b"" and dict(head.headers)["Content-Length"] == str(len(BODY))
    assert handle(app, path="/").body.startswith(b"<!DOCTYPE html>")
    assert handle(app, path="/-/healthy").status == 200
    assert handle(app, path="/-/ready?x=1").status == 200
    app.is_ready = False
    assert handle(app, path="/-/ready").status == 503
    assert handle(app, path="/nope").status == 404
    assert handle(app, "POST", "/metrics").status == 405


def test_reload_is_refused_without_lifecycle_as_prometheus_does():
    app = FakeApp(lifecycle=False)
    refused = handle(app, "POST", "/-/reload")
    assert refused.status == 403 and b"--web.enable-lifecycle" in refused.body
    assert handle(app, "GET", "/-/reload").status == 405


def test_cross_origin_reload_is_refused_and_same_origin_works():
    app = FakeApp()
    for headers in ({"Origin": "http://evil.example", "Host": "127.0.0.1:10788"},
                    {"Origin": "http://127.0.0.1:10789", "Host": "127.0.0.1:10788"},
                    {"Origin": "null", "Host": "127.0.0.1:10788"},
                    {"Sec-Fetch-Site": "cross-site", "Host": "127.0.0.1:10788"},
                    {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:10788",
                     "Host": "127.0.0.1:10788"}):
        answer = routes.handle(app.web_app, WebConfig(), "POST", "/-/reload", headers)
        assert answer.status == 403 and b"Cross-origin" in answer.body, headers
    assert app.reloads == 0
    for headers in ({}, {"Host": "127.0.0.1:10788"},
                    {"Origin": "http://127.0.0.1:10788", "Host": "127.0.0.1:10788"},
                    {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}):
        assert routes.handle(app.web_app, WebConfig(), "PUT", "/-/reload",
                             headers).status == 200, headers
    assert app.reloads == 5


def test_failed_reload_lists_the_problems():
    app = FakeApp()
    web_app = WebApp(app.render, lambda: True, lambda: (False, ["accounts: required"]))
    answer = routes.handle(web_app, WebConfig(), "POST", "/-/reload", {})
    assert answer.status == 500 and b"accounts: required" in answer.body


# -- the server, over real sockets ---------------------------------------------------------

def test_endpoints_over_one_keep_alive_connection(start):
    server = start()
    session = requests.Session()
    for path, status in (("/metrics", 200), ("/", 200), ("/-/healthy", 200),
                         ("/-/ready", 200), ("/nope", 404)):
        assert session.get(server.url + path, timeout=5).status_code == status, path
    assert session.get(server.url + "/metrics", timeout=5).content == BODY  # gunzipped
    assert session.head(server.url + "/metrics", timeout=5).content == b""
    assert server.connections == 1
    assert session.post(server.url + "/-/reload", timeout=5).status_code == 200
    assert server.fake.reloads == 1


def test_a_body_larger_than_the_socket_takes_at_once_arrives_whole_over_keep_alive(start):
    """The worker sends what the socket takes at once; the loop writes the rest as the client
    reads (here it starts reading late), and the connection carries the next request."""
    body = bytes(range(256)) * (64 * 1024)  # 16 MB: more than any socket buffer holds
    app = FakeApp()
    app.web_app = WebApp(lambda _gzip: body, lambda: True)
    server = start(app)
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        for _ in range(2):
            sock.sendall(request)
            time.sleep(0.3)
            received = b""
            while not received.endswith(body[-1024:]) or len(received) < len(body):
                received += sock.recv(1 << 20)
            head, _, got = received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 16777216" in head
            assert got == body


def test_many_half_open_connections_neither_stop_scrapes_nor_add_threads(start):
    before = threading.active_count()
    server = start(max_requests=4)
    stalled = half_open(server.port, 300)
    try:
        wait_for(lambda: server.connections == 300)
        for _ in range(5):
            started = time.monotonic()
            assert requests.get(server.url + "/metrics", timeout=5).status_code == 200
            assert time.monotonic() - started < 1.0
        assert threading.active_count() <= before + 4 + 1  # the loop thread and the workers
    finally:
        for sock in stalled:
            sock.close()


def test_parallel_requests_are_capped_at_max_requests(start):
    """Uncompressed, so each goes to a worker (compressed scrapes are the loop's own)."""
    server = start(FakeApp(delay=0.1), max_requests=3)
    results = []

    def scrape():
        results.append(requests.get(server.url + "/metrics", timeout=10,
                                    headers={"Accept-Encoding": "identity"}).status_code)

    threads = [threading.Thread(target=scrape) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 12
    assert server.worker_threads == 3


def test_compressed_scrapes_are_answered_by_the_loop_and_the_rest_by_workers(start):
    """A compressed scrape without credentials to check is answered by the loop thread (no
    second wait for the interpreter lock in a worker); anything else by a worker."""
    server = start()
    with requests.Session() as session:
        for _ in range(3):
            answer = session.get(server.url + "/metrics", headers={"Accept-Encoding": "gzip"})
            assert answer.status_code == 200 and answer.content == BODY
            assert answer.headers["Content-Encoding"] == "gzip"
        assert server.worker_threads == 0
        plain = session.get(server.url + "/metrics", headers={"Accept-Encoding": "identity"})
        assert plain.content == BODY and "Content-Encoding" not in plain.headers
        assert server.worker_threads == 1


def test_quick_routes_only_compressed_scrapes_without_credentials():
    web, auth = WebConfig(), WebConfig(users={"u": b"hash"})
    assert routes.quick(web, "GET", "/metrics?x=1", {"Accept-Encoding": "gzip, deflate"})
    assert routes.quick(web, "HEAD", "/metrics", {"accept-encoding": "gzip"})
    assert not routes.quick(web, "GET", "/metrics", {"Accept-Encoding": "identity"})
    assert not routes.quick(web, "GET", "/metrics", {})
    assert not routes.quick(web, "GET", "/", {"Accept-Encoding": "gzip"})  # the status page
    assert not routes.quick(web, "POST", "/metrics", {"Accept-Encoding": "gzip"})
    assert not routes.quick(auth, "GET", "/metrics", {"Accept-Encoding": "gzip"})  # bcrypt


def test_an_answer_failing_in_the_loop_drops_its_connection_only(start, monkeypatch):
    server = start()
    real_handle = routes.handle
    monkeypatch.setattr(routes, "handle", lambda *args: 1 / 0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        assert closed_by_server(sock, 3)
    monkeypatch.setattr(routes, "handle", real_handle)
    answer = requests.get(server.url + "/metrics", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.content == BODY


def test_head_deadline_closes_a_stalled_connection(start, monkeypatch):
    monkeypatch.setattr(connection, "HEAD_TIMEOUT", 0.5)
    server = start()
    silent = socket.create_connection(("127.0.0.1", server.port))
    (trickling,) = half_open(server.port, 1)
    for _ in range(3):  # a byte now and then does not extend the deadline
        time.sleep(0.15)
        trickling.sendall(b"X")
    assert closed_by_server(silent, 2) and closed_by_server(trickling, 2)
    wait_for(lambda: server.connections == 0)


def test_idle_keep_alive_connections_are_closed(start, monkeypatch):
    monkeypatch.setattr(connection, "IDLE_TIMEOUT", 0.5)
    server = start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"Healthy\n"):
            answer += sock.recv(1000)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        assert closed_by_server(sock, 3)


def test_open_connections_are_capped_and_new_clients_still_get_in(start):
    server = start(max_connections=50)
    stalled = half_open(server.port, 120)
    try:
        assert requests.get(server.url + "/-/healthy", timeout=5).status_code == 200
        assert server.connections <= 50
        assert sum(closed_by_server(sock, 0.01) for sock in stalled[:60]) >= 60 - 1
    finally:
        for sock in stalled:
            sock.close()


def test_pipelined_requests_and_bad_requests(start):
    server = start()
    two = raw_exchange(server.port, b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
                                    b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert two.count(b"HTTP/1.1 200 OK") == 2 and b"Healthy" in two and b"Ready" in two
    assert raw_exchange(server.port, b"NOT A REQUEST\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw_exchange(server.port, b"PRI * HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505")
    huge = b"GET / HTTP/1.1\r\nX: " + b"a" * 40000 + b"\r\n\r\n"
    assert raw_exchange(server.port, huge).startswith(b"HTTP/1.1 431")
    old = raw_exchange(server.port, b"GET /-/healthy HTTP/1.0\r\n\r\n")
    assert old.startswith(b"HTTP/1.1 200") and b"Connection: close" in old


def test_post_body_is_skipped_and_expect_continue_answered(start):
    server = start()
    form = (b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\na=b&c"
            b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answers = raw_exchange(server.port, form)
    assert answers.count(b"HTTP/1.1 200 OK") == 2 and b"Healthy" in answers
    expect = raw_exchange(server.port, b"POST /-/reload HTTP/1.1\r\nHost: x\r\n"
                                       b"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n")
    assert expect.startswith(b"HTTP/1.1 200") and b"Connection: close" in expect


def test_two_listen_addresses_both_answer(start):
    ipv6 = socket.has_ipv6 and _can_bind("::1")
    second = ("::1", 0) if ipv6 else ("127.0.0.1", 0)
    server = start(addresses=[("127.0.0.1", 0), second])
    assert len(server.addresses) == 2
    for host, port in server.addresses:
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        assert requests.get(url + "/-/healthy", timeout=5).text == "Healthy\n"


def test_an_address_that_cannot_be_bound_fails_at_start_and_leaves_nothing_bound():
    busy = socket.create_server(("127.0.0.1", 0))
    port, other = busy.getsockname()[1], free_port()
    try:
        with pytest.raises(OSError) as caught:
            serve(FakeApp().web_app, [("127.0.0.1", other), ("127.0.0.1", port)], WebConfig())
        assert f"127.0.0.1:{port}" in str(caught.value)
        socket.create_server(("127.0.0.1", other)).close()  # the first one was let go
    finally:
        busy.close()


def test_listen_addresses_parse():
    assert parse_listen_address(":10788") == ("", 10788)
    assert parse_listen_address("[::1]:10788") == ("::1", 10788)
    assert parse_listen_addresses(["127.0.0.1:1, [::1]:1", " :2\n:2"]) == [
        ("127.0.0.1", 1), ("::1", 1), ("", 2)]
    with pytest.raises(ValueError):
        parse_listen_address("10788")


def test_lifecycle_and_cross_origin_over_http(start):
    closed = start(FakeApp(lifecycle=False))
    refused = requests.post(closed.url + "/-/reload", timeout=5)
    assert refused.status_code == 403 and "--web.enable-lifecycle" in refused.text
    server = start()
    form = {"data": "a=b", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    evil = requests.post(server.url + "/-/reload", timeout=5,
                         **{**form, "headers": {**form["headers"],
                                                "Origin": "https://evil.example"}})
    assert evil.status_code == 403 and server.fake.reloads == 0
    same = requests.post(server.url + "/-/reload", timeout=5,
                         **{**form, "headers": {**form["headers"], "Origin": server.url}})
    assert same.status_code == 200 and server.fake.reloads == 1


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    paths = make_pki(tmp_path_factory.mktemp("pki"))
    paths["hash"] = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4))
    return paths


def tls_config(pki, client_certs=False) -> WebConfig:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server.crt"], pki["server.key"])
    if client_certs:
        context.load_verify_locations(pki["ca.crt"])
        context.verify_mode = ssl.CERT_REQUIRED
    return WebConfig(ssl_context=context, users={"prometheus": pki["hash"]})


def test_basic_auth(start, pki):
    server = start(web=WebConfig(users={"prometheus": pki["hash"]}))
    for path in ("/metrics", "/"):
        answer = requests.get(server.url + path, timeout=5)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="bybit-exporter", charset="UTF-8"'
        assert requests.get(server.url + path, auth=("prometheus", "no"), timeout=5).status_code == 401
    assert requests.post(server.url + "/-/reload", timeout=5).status_code == 401
    assert requests.get(server.url + "/-/healthy", timeout=5).status_code == 200
    assert requests.get(server.url + "/-/ready", timeout=5).status_code == 200
    assert requests.get(server.url + "/metrics", auth=("prometheus", PASSWORD),
                        timeout=5).content == BODY


def test_tls_with_stalled_handshakes_and_keep_alive(start, pki):
    server = start(web=tls_config(pki))
    url = server.url.replace("http://", "https://")
    stalled = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(350)]
    for sock in stalled[50:]:  # half a ClientHello: OpenSSL state is allocated for these
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    try:
        wait_for(lambda: server.connections >= 300)
        assert server.handshakes <= MAX_HANDSHAKES
        session = requests.Session()
        for _ in range(3):
            answer = session.get(url + "/metrics", verify=str(pki["ca.crt"]),
                                 auth=("prometheus", PASSWORD), timeout=5)
            assert answer.status_code == 200 and answer.content == BODY
        assert session.get(url + "/metrics", verify=str(pki["ca.crt"]),
                           timeout=5).status_code == 401
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(server.url + "/metrics", timeout=5)  # plain HTTP on the TLS port
    finally:
        for sock in stalled:
            sock.close()


def test_tls_client_certificates(start, pki):
    server = start(web=tls_config(pki, client_certs=True))
    url = server.url.replace("http://", "https://") + "/metrics"
    auth, ca = ("prometheus", PASSWORD), str(pki["ca.crt"])
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(url, verify=ca, auth=auth, timeout=5)
    client = (str(pki["client.crt"]), str(pki["client.key"]))
    assert requests.get(url, verify=ca, cert=client, auth=auth, timeout=5).status_code == 200


def test_healthcheck_follows_the_first_listen_address(start, pki, monkeypatch):
    plain, tls = start(), start(web=tls_config(pki))
    monkeypatch.setenv(healthcheck.ENV, f" 127.0.0.1:{plain.port}, [::1]:{free_port()}")
    assert healthcheck.target() == f"127.0.0.1:{plain.port}" and healthcheck.main() == 0
    monkeypatch.setenv(healthcheck.ENV, f":{tls.port} 127.0.0.1:{free_port()}")
    assert healthcheck.target() == f"127.0.0.1:{tls.port}" and healthcheck.main() == 0
    monkeypatch.setenv(healthcheck.ENV, f"127.0.0.1:{free_port()},127.0.0.1:{plain.port}")
    assert healthcheck.main() == 1
    monkeypatch.setenv(healthcheck.ENV, "nonsense")
    assert healthcheck.main() == 1


def _can_bind(host: str) -> bool:
    try:
        socket.create_server((host, 0), family=socket.AF_INET6).close()
        return True
    except OSError:
        return False
