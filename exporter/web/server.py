"""Sockets and threads. One event-loop thread accepts on every listen address, does TLS
handshakes and reads request heads on non-blocking sockets with deadlines, and writes what of
an answer the socket did not take at once; at most `max_requests` worker threads run the routes
and send their answers' first part, except for compressed scrapes (routes.quick), which the
loop answers itself. No thread per connection: clients that
stall cost a socket each, up to `max_connections`, beyond which the oldest of those waiting on
their client are dropped."""

from __future__ import annotations

import errno
import logging
import resource
import selectors
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Self

from exporter.web import protocol, routes
from exporter.web.addresses import bind
from exporter.web.connection import Close, Connection, Dispatch, Phase, Step, Wait
from exporter.pool import WorkerPool
from exporter.web.protocol import RequestHead
from exporter.web.routes import WebApp
from exporter.web.watch import FixedWebConfig, WebConfigSource
from exporter.web.webconfig import WebConfig

log = logging.getLogger("exporter.web")

DEFAULT_MAX_REQUESTS = 40  # as node_exporter's --web.max-requests
MAX_CONNECTIONS = 4096
# A connection in the middle of its TLS handshake holds ~65 KB of OpenSSL state (~16 KB once
# established): at most this many at once, the oldest dropped beyond.
MAX_HANDSHAKES = 256
_TICK = 0.1  # how often deadlines are checked
_WARN_EVERY = 60.0
_OUT_OF_FILES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def serve(app: WebApp, addresses: Sequence[tuple[str, int]], web: WebConfig | WebConfigSource,
          max_requests: int = DEFAULT_MAX_REQUESTS, max_connections: int | None = None) -> Server:
    """Bind every address now (an OSError naming the address if one fails: nothing is left
    bound) and serve on all of them from a background thread. A WebConfigSource (a watched
    --web.config.file) is asked for the config in force at each connection and request."""
    if not addresses:
        raise ValueError("no listen address")
    listeners: list[socket.socket] = []
    try:
        for host, port in addresses:
            listeners.append(bind(host, port))
    except OSError:
        for listener in listeners:
            listener.close()
        raise
    return Server(app, web, listeners, max_requests, max_connections or default_max_connections())


def default_max_connections() -> int:
    """MAX_CONNECTIONS, or fewer when the open files limit leaves less room (with some for
    the rest of the process: sessions to Bybit, logs)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft - 256, soft * 3 // 4))


def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard limit (as Go programs do at start);
    returns the new soft limit. Call before serve() to allow MAX_CONNECTIONS."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


class Server:
    def __init__(self, app: WebApp, web: WebConfig | WebConfigSource,
                 listeners: list[socket.socket], max_requests: int, max_connections: int):
        self.app = app
        self.web: WebConfigSource = FixedWebConfig(web) if isinstance(web, WebConfig) else web
        self.max_connections = max_connections
        self._pool = WorkerPool(max_requests)
        self._listeners = listeners
        self.addresses: list[tuple[str, int]] = [
            (str(s.getsockname()[0]), int(s.getsockname()[1])) for s in listeners]
        self._selector = selectors.DefaultSelector()
        self._conns: OrderedDict[Connection, None] = OrderedDict()  # oldest activity first
        self._handshaking: OrderedDict[Connection, None] = OrderedDict()  # oldest first
        self._done: deque[tuple[Connection, bytes, bytes | memoryview, bool]] = deque()
        self._quick: deque[tuple[Connection, RequestHead]] = deque()  # answered by the loop
        self._wake_r, self._wake_w = socket.socketpair()
        self._scratch = memoryview(bytearray(64 * 1024))  # reads of every connection
        self._stopping = threading.Event()
        self._paused_until = 0.0
        self._warned_at = -_WARN_EVERY
        for sock in (*listeners, self._wake_r, self._wake_w):
            sock.setblocking(False)
        for listener in listeners:
            self._selector.register(listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="web-loop", daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        return len(self._conns)

    @property
    def handshakes(self) -> int:
        return len(self._handshaking)

    @property
    def worker_threads(self) -> int:
        return self._pool.threads

    def shutdown(self) -> None:
        """Stop accepting, close every connection and the listening sockets. Idempotent."""
        self._stopping.set()
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    close = shutdown

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()

    # -- the event loop thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._loop_once()
        except Exception:
            log.exception("web server loop failed")
        finally:
            self._close_all()

    def _loop_once(self) -> None:
        for key, _ in self._selector.select(timeout=0 if self._quick else _TICK):
            now = time.monotonic()
            if isinstance(key.data, Connection):
                if key.data in self._conns:  # not dropped by an earlier event of this round
                    self._step(key.data, key.data.advance(now))
            elif key.fileobj is self._wake_r:
                self._drain_wake()
            elif isinstance(key.fileobj, socket.socket):
                self._accept(key.fileobj, now)
        self._answer_quick()
        now = time.monotonic()
        self._finish_answers(now)
        self._expire(now)
        self._resume_accepting(now)

    def _step(self, conn: Connection, step: Step) -> None:
        if conn.phase is Phase.HANDSHAKE and not isinstance(step, Close):
            self._track_handshake(conn)
        elif conn in self._handshaking:
            del self._handshaking[conn]
        if isinstance(step, Wait):
            self._watch(conn, step.events)
        elif isinstance(step, Dispatch):
            self._watch(conn, 0)
            head = step.head
            if routes.quick(self.web.current(), head.method, head.target, head.headers):
                self._quick.append((conn, head))
            else:
                self._pool.submit(lambda: self._answer_and_wake(conn, head))
        elif isinstance(step, Close):
            self._drop(conn)

    def _watch(self, conn: Connection, events: int) -> None:
        try:
            key = self._selector.get_key(conn.fd)
        except KeyError:
            if events:
                self._selector.register(conn.fd, events, conn)
            return
        if not events:
            self._selector.unregister(conn.fd)
        elif key.events != events:
            self._selector.modify(conn.fd, events, conn)

    def _track_handshake(self, conn: Connection) -> None:
        if conn in self._handshaking:
            return
        self._handshaking[conn] = None
        if len(self._handshaking) > MAX_HANDSHAKES:
            self._drop(next(iter(self._handshaking)))

    def _drop(self, conn: Connection) -> None:
        self._conns.pop(conn, None)
        self._handshaking.pop(conn, None)
        self._watch(conn, 0)
        conn.close()

    def _accept(self, listener: socket.socket, now: float) -> None:
        for _ in range(64):  # then let the other sockets have a turn
            try:
                sock, peer = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF_FILES:
                    log.warning("accept failed", extra={"fields": {"error": str(exc)}})
                self._out_of_files(now)
                return
            self._admit(sock, str(peer[0]), now)

    def _admit(self, sock: socket.socket, peer: str, now: float) -> None:
        if len(self._conns) >= self.max_connections and not self._evict_oldest(now):
            sock.close()
            return
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            sock.close()
            return
        conn = Connection(sock, peer, now, self._scratch, self.web.current().ssl_context)
        self._conns[conn] = None
        self._step(conn, conn.advance(now))

    def _evict_oldest(self, now: float) -> bool:
        oldest = next((conn for conn in self._conns if conn.evictable), None)
        if oldest is None:
            return False
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("too many connections: dropping the oldest idle ones",
                        extra={"fields": {"max_connections": self.max_connections}})
        self._drop(oldest)
        return True

    def _out_of_files(self, now: float) -> None:
        """accept() failed (for want of file descriptors, mostly): make room, or pause
        accepting a moment instead of spinning on a listening socket that stays readable."""
        if not self._evict_oldest(now):
            self._paused_until = now + 0.1
            for listener in self._listeners:
                self._selector.unregister(listener)

    def _resume_accepting(self, now: float) -> None:
        if self._paused_until and now >= self._paused_until:
            self._paused_until = 0.0
            for listener in self._listeners:
                self._selector.register(listener, selectors.EVENT_READ, None)

    def _expire(self, now: float) -> None:
        """Drop connections past their deadline (a worker's request has none)."""
        expired = [conn for conn in self._conns
                   if conn.phase is not Phase.WORKING and now >= conn.deadline]
        for conn in expired:
            log.debug("connection timed out", extra={"fields": {
                "client": conn.peer, "phase": conn.phase.value}})
            self._drop(conn)

    def _finish_answers(self, now: float) -> None:
        while self._done:
            conn, head, body, keep_alive = self._done.popleft()
            if conn in self._conns:
                self._conns.move_to_end(conn)
                self._step(conn, conn.respond(head, body, keep_alive, now))

    def _answer_quick(self) -> None:
        """Scrapes answered here rather than by a worker: handing one to a worker made it wait
        for the interpreter lock a second time, behind busy poll threads (up to 5 ms). Those
        queued meanwhile (pipelined) wait for the next round, after the other sockets'."""
        for _ in range(len(self._quick)):
            conn, head = self._quick.popleft()
            if conn not in self._conns:  # dropped meanwhile
                continue
            try:
                self._answer(conn, head)
            except Exception:
                log.exception("answering a request failed")
                self._drop(conn)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:  # full (the loop will wake anyway) or closed (stopped)
            pass

    def _close_all(self) -> None:
        for conn in list(self._conns):
            conn.close()
        self._conns.clear()
        self._handshaking.clear()
        for sock in (*self._listeners, self._wake_r, self._wake_w):
            sock.close()
        self._selector.close()
        self._pool.stop()

    # -- answers: by worker threads, quick ones by the loop ----------------------------------

    def _answer_and_wake(self, conn: Connection, head: RequestHead) -> None:
        self._answer(conn, head)
        self._wake()

    def _answer(self, conn: Connection, head: RequestHead) -> None:
        response = routes.handle(self.app, self.web.current(), head.method, head.target,
                                 head.headers)
        keep_alive = head.keep_alive and not head.expects_continue
        raw = protocol.response_head(response.status, response.headers, keep_alive, head.version)
        log.debug("http request", extra={"fields": {
            "client": conn.peer, "request": f"{head.method} {head.target} {head.version}",
            "status": response.status}})
        self._done.append((conn, *conn.send_early(raw, response.body), keep_alive))
