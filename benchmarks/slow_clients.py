"""Slow clients: N connections that each send half a request head, against the web server.

    python benchmarks/slow_clients.py                      # N=10000, about a minute
    python benchmarks/slow_clients.py --clients 3000 --tls --seconds 10
    python benchmarks/slow_clients.py --max-connections 12000   # let the server hold all N

Starts exporter.web.serve() in a subprocess with a fake app whose /metrics is a 1 MB body
(--max-requests 40 as the CLI's default), then for N=0 and N=--clients: samples the server's
threads, RSS and open files, opens the N half-open connections from another subprocess (which
reopens any the server drops, so N stay pending throughout), and times --scrapes scrapes of
/metrics, each on a new connection, while they sit there. Loopback only; stops by itself.
The soft limit of open files is raised to the hard limit in every process (as Go programs do).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BODY = (b"# HELP bench_metric A benchmark series.\n# TYPE bench_metric gauge\n"
        + b"".join(b'bench_metric{account="a%06d"} 1\n' % i for i in range(40000)))[:1 << 20]
HALF_REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n"
# a TLS record header announcing a 512-byte ClientHello, and only its first bytes
HALF_CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32)


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# -- the server subprocess -------------------------------------------------------------------

def run_server(port_file: str, max_requests: int, max_connections: int | None,
               tls_dir: str | None) -> None:
    from exporter.web import WebApp, WebConfig, raise_open_files_limit, serve

    raise_open_files_limit()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # for sigwait, in every thread
    web = WebConfig()
    if tls_dir:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(Path(tls_dir, "server.crt"), Path(tls_dir, "server.key"))
        web = WebConfig(ssl_context=context)
    app = WebApp(render_metrics=lambda _gzip: BODY, ready=lambda: True)
    server = serve(app, [("127.0.0.1", 0)], web, max_requests, max_connections)
    Path(port_file).write_text(str(server.addresses[0][1]))
    signal.sigwait({signal.SIGTERM})
    server.shutdown()


# -- the slow clients subprocess ---------------------------------------------------------------

class SlowClients:
    """Keeps `count` connections open, each with half a request sent; reopens dropped ones."""

    def __init__(self, port: int, count: int, tls: bool):
        self.address, self.count, self.tls = ("127.0.0.1", port), count, tls
        self.selector = selectors.DefaultSelector()
        self.live = self.dropped = self.failed = 0

    def open_some(self, limit: int) -> None:
        for _ in range(min(limit, self.count - self.live)):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(self.address)
            self.selector.register(sock, selectors.EVENT_WRITE, "connecting")
            self.live += 1

    def on_event(self, key: selectors.SelectorKey) -> None:
        sock = key.fileobj
        assert isinstance(sock, socket.socket)
        if key.data == "connecting":
            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self.failed += 1
                return self.forget(sock)
            sock.send(HALF_CLIENT_HELLO if self.tls else HALF_REQUEST)
            self.selector.modify(sock, selectors.EVENT_READ, "open")
            return None
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            self.dropped += 1
            self.forget(sock)
        return None

    def forget(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)
        sock.close()
        self.live -= 1

    def run(self, seconds: float) -> None:
        end, report = time.monotonic() + seconds, 0.0
        while time.monotonic() < end:
            self.open_some(1000)
            for key, _ in self.selector.select(timeout=0.05):
                self.on_event(key)
            if time.monotonic() >= report:
                report = time.monotonic() + 0.5
                self.report()
        self.report()

    def report(self) -> None:
        established = sum(1 for key in self.selector.get_map().values() if key.data == "open")
        print(json.dumps({"established": established, "dropped": self.dropped,
                          "failed": self.failed}), flush=True)


# -- the benchmark (main process) --------------------------------------------------------------

def server_figures(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {"threads": int(status.split("Threads:")[1].split()[0]),
            "rss_mb": int(status.split("VmRSS:")[1].split()[0]) / 1024,
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def scrape(port: int, context: ssl.SSLContext | None) -> tuple[float, bool]:
    """One GET /metrics on a new connection: (seconds, complete 200)."""
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            sock = context.wrap_socket(raw) if context else raw
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            received = bytearray()
            while chunk := sock.recv(1 << 16):
                received += chunk
        ok = received.startswith(b"HTTP/1.1 200") and received.endswith(BODY[-64:])
    except OSError:
        ok = False
    return time.perf_counter() - started, ok


class Run:
    """One server subprocess and, for N > 0, the slow clients subprocess."""

    def __init__(self, args: argparse.Namespace, clients: int, tls_dir: str | None):
        self.args, self.clients, self.tls_dir = args, clients, tls_dir
        port_file = Path(tempfile.mkstemp()[1])
        command = [sys.executable, __file__, "--serve", str(port_file),
                   "--max-requests", str(args.max_requests)]
        command += ["--max-connections", str(args.max_connections)] if args.max_connections else []
        command += ["--tls-dir", tls_dir] if tls_dir else []
        self.server = subprocess.Popen(command, cwd=REPO)
        deadline = time.monotonic() + 10
        while not port_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        port_file.unlink()
        self.slow: subprocess.Popen[str] | None = None
        self.slow_state: dict[str, int] = {"established": 0, "dropped": 0, "failed": 0}

    def start_slow_clients(self) -> None:
        command = [sys.executable, __file__, "--slow", str(self.port), str(self.clients),
                   str(self.args.seconds + 60)] + (["--tls"] if self.tls_dir else [])
        self.slow = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
        threading.Thread(target=self._follow, daemon=True).start()
        deadline = time.monotonic() + 30
        while (self.slow_state["established"] < min(self.clients, self._held())
               and time.monotonic() < deadline):
            time.sleep(0.2)

    def _held(self) -> int:
        from exporter.web.server import MAX_CONNECTIONS

        return self.args.max_connections or MAX_CONNECTIONS

    def _follow(self) -> None:
        assert self.slow is not None and self.slow.stdout is not None
        for line in self.slow.stdout:
            self.slow_state = json.loads(line)

    def stop(self) -> None:
        for process in (self.slow, self.server):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=10)


def measure(args: argparse.Namespace, clients: int, tls_dir: str | None) -> dict[str, float]:
    run = Run(args, clients, tls_dir)
    context = None
    if tls_dir:
        context = ssl.create_default_context(cafile=str(Path(tls_dir, "ca.crt")))
        context.check_hostname = False
    try:
        time.sleep(0.5)
        scrape(run.port, context)  # warm up
        before = server_figures(run.server.pid)
        if clients:
            run.start_slow_clients()
        time.sleep(args.seconds / 2)
        during, times, failures = before, [], 0
        for _ in range(args.scrapes):
            seconds, ok = scrape(run.port, context)
            times.append(seconds)
            failures += not ok
            figures = server_figures(run.server.pid)
            during = {k: max(during[k], figures[k]) for k in during}
            time.sleep(args.seconds / 2 / args.scrapes)
        held = server_figures(run.server.pid)["fds"] - before["fds"]
        return {"threads_before": before["threads"], "threads_max": during["threads"],
                "rss_before": before["rss_mb"], "rss_max": during["rss_mb"],
                "connections_held": max(held, 0), "pending": run.slow_state["established"],
                "dropped": run.slow_state["dropped"],
                "median_ms": statistics.median(times) * 1000, "max_ms": max(times) * 1000,
                "failed": failures}
    finally:
        run.stop()


ROWS = [("server threads, before", "threads_before", "{:.0f}"),
        ("server threads, max while pending", "threads_max", "{:.0f}"),
        ("server RSS before (MB)", "rss_before", "{:.1f}"),
        ("server RSS max while pending (MB)", "rss_max", "{:.1f}"),
        ("half-open connections pending (client side)", "pending", "{:.0f}"),
        ("connections held by the server", "connections_held", "{:.0f}"),
        ("dropped by the server and reopened", "dropped", "{:.0f}"),
        ("/metrics median (ms, new connection, 1 MB)", "median_ms", "{:.1f}"),
        ("/metrics max (ms)", "max_ms", "{:.1f}"),
        ("/metrics failed", "failed", "{:.0f}")]


def print_table(results: dict[int, dict[str, float]]) -> None:
    columns = list(results)
    print(f"{'':46}" + "".join(f"{f'N={n}':>14}" for n in columns))
    for label, key, fmt in ROWS:
        print(f"{label:46}" + "".join(f"{fmt.format(results[n][key]):>14}" for n in columns))


def make_tls_dir() -> str:
    from tests.certs import make_pki

    folder = tempfile.mkdtemp(prefix="slow-clients-pki-")
    make_pki(Path(folder))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="how long the slow clients sit there per run")
    parser.add_argument("--max-requests", type=int, default=40)
    parser.add_argument("--max-connections", type=int, default=0, help="0: the server default")
    parser.add_argument("--tls", action="store_true", help="serve TLS; slow clients send "
                        "half a ClientHello")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--tls-dir", help=argparse.SUPPRESS)
    parser.add_argument("--slow", nargs=3, type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return run_server(args.serve, args.max_requests, args.max_connections or None,
                          args.tls_dir)
    if args.slow:
        raise_nofile()
        port, count, seconds = args.slow
        return SlowClients(int(port), int(count), args.tls).run(seconds)
    limit = raise_nofile()
    clients = min(args.clients, limit - 512)
    if clients < args.clients:
        print(f"open files hard limit {limit}: {clients} clients instead of {args.clients}")
    tls_dir = make_tls_dir() if args.tls else None
    print(f"slow clients: N half-open connections, {args.scrapes} scrapes of a 1 MB /metrics, "
          f"--web.max-requests {args.max_requests}, {'TLS' if tls_dir else 'plain HTTP'}, "
          f"{os.cpu_count()} cores, python {sys.version.split()[0]}\n")
    results = {n: measure(args, n, tls_dir) for n in (0, clients)}
    print_table(results)


if __name__ == "__main__":
    main()
