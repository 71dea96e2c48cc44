"""One client connection, driven by the server's event loop on a non-blocking socket: TLS
handshake, reading a request head (and skipping any body), writing the answer, keep-alive.
Every state has a deadline, so a silent or slow client costs a socket, never a thread."""

from __future__ import annotations

import enum
import logging
import socket
import ssl
from collections import deque
from dataclasses import dataclass
from selectors import EVENT_READ, EVENT_WRITE

from exporter.web import protocol
from exporter.web.protocol import BadRequest, RequestHead

log = logging.getLogger("exporter.web")

HEAD_TIMEOUT = 5.0  # TLS handshake + request line + headers (+ a small body)
IDLE_TIMEOUT = 120.0  # a keep-alive connection waiting for its next request
WRITE_TIMEOUT = 30.0  # an answer the client stopped reading
_JOIN_BELOW = 64 * 1024  # smaller bodies go out with the head in one send; larger are not copied
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class Phase(enum.Enum):
    HELLO = "hello"  # TLS: waiting for the client's first bytes
    HANDSHAKE = "handshake"
    HEAD = "head"  # also idle between keep-alive requests
    BODY = "body"
    WORKING = "working"  # a worker thread has the request; the loop leaves the socket alone
    WRITING = "writing"


@dataclass(frozen=True)
class Wait:
    events: int  # EVENT_READ / EVENT_WRITE: call advance() when the socket is ready


@dataclass(frozen=True)
class Dispatch:
    head: RequestHead  # hand to a worker; call respond() with its answer


class Close:
    pass


Step = Wait | Dispatch | Close
CLOSE = Close()


class Connection:
    __slots__ = (
        "body_left",
        "buffer",
        "deadline",
        "eof",
        "fd",
        "head",
        "idle",
        "keep_alive",
        "out",
        "peer",
        "phase",
        "scratch",
        "sock",
        "tls",
    )

    def __init__(self, sock: socket.socket, peer: str, now: float, scratch: memoryview,
                 tls: ssl.SSLContext | None = None):
        self.sock = sock
        self.fd = sock.fileno()  # the same once wrapped in TLS: the selector's key
        self.scratch = scratch  # the loop's read buffer, shared by its connections
        self.tls = tls  # wrapped once the client's first bytes arrive
        self.peer = peer
        self.phase = Phase.HELLO if tls else Phase.HEAD
        self.deadline = now + HEAD_TIMEOUT  # from accept: a client that sends nothing goes too
        self.idle = False
        self.buffer = bytearray()
        self.out: deque[memoryview] = deque()
        self.keep_alive = False
        self.head: RequestHead | None = None
        self.body_left = 0
        self.eof = False

    @property
    def evictable(self) -> bool:
        """Waiting on the client (not on a worker or writing an answer): may be dropped to make
        room for a new connection."""
        return self.phase in (Phase.HELLO, Phase.HANDSHAKE, Phase.HEAD, Phase.BODY)

    def advance(self, now: float) -> Step:
        """Make all the progress the socket allows now."""
        try:
            if self.phase is Phase.HELLO:
                return self._wrap(now)
            if self.phase is Phase.HANDSHAKE:
                return self._handshake(now)
            if self.phase is Phase.WRITING:
                return self._write(now)
            return self._read(now)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            log.debug("connection dropped", extra={"fields": {"client": self.peer,
                                                             "error": type(exc).__name__}})
            return CLOSE

    def send_early(self, head_bytes: bytes, body: bytes) -> tuple[bytes, bytes | memoryview]:
        """From the thread that made the answer (a worker, or the loop for a quick one), while
        the loop leaves the socket alone: as much of it as the socket takes now, in one system
        call; what is left, for respond(). A worker's answer then reaches the client without
        waiting for the loop thread to take the interpreter lock again (behind busy poll
        threads: up to 5 ms each time)."""
        if self.tls is not None or not hasattr(self.sock, "sendmsg"):
            return head_bytes, body
        try:
            sent = self.sock.sendmsg((head_bytes, body))
        except OSError:  # would block, or a broken connection: the loop finds out
            return head_bytes, body
        if sent < len(head_bytes):
            return head_bytes[sent:], body
        return b"", memoryview(body)[sent - len(head_bytes):]

    def respond(self, head_bytes: bytes, body: bytes | memoryview, keep_alive: bool,
                now: float) -> Step:
        """Start writing an answer (from a worker, or an error of the loop's own)."""
        self.phase = Phase.WRITING
        self.keep_alive = keep_alive and not self.eof
        parts = (head_bytes + body,) if len(body) <= _JOIN_BELOW else (head_bytes, body)
        self.out.extend(memoryview(part) for part in parts if part)
        self.deadline = now + WRITE_TIMEOUT
        return self.advance(now)

    def fail(self, error: BadRequest, now: float) -> Step:
        body = error.message.encode()
        headers = (("Content-Type", protocol.TEXT), ("Content-Length", str(len(body))))
        return self.respond(protocol.response_head(error.status, headers, False), body, False, now)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _handshake(self, now: float) -> Step:
        assert isinstance(self.sock, ssl.SSLSocket)
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            return Wait(EVENT_READ)
        except ssl.SSLWantWriteError:
            return Wait(EVENT_WRITE)
        self.phase = Phase.HEAD
        return self._read(now)

    def _wrap(self, now: float) -> Step:
        """TLS state (tens of KB in OpenSSL) only for a client that has begun its handshake:
        one that sends nothing costs no more than a plain connection."""
        try:
            if not self.sock.recv(1, socket.MSG_PEEK):
                return CLOSE
        except BlockingIOError:
            return Wait(EVENT_READ)
        assert self.tls is not None
        self.sock = self.tls.wrap_socket(self.sock, server_side=True,
                                         do_handshake_on_connect=False)
        self.phase = Phase.HANDSHAKE
        return self._handshake(now)

    def _read(self, now: float) -> Step:
        self._fill()
        if self.phase is Phase.HEAD:
            step = self._take_head(now)
            if step is not None:
                return step
        if self.phase is Phase.BODY:
            return self._skip_body(now)
        return CLOSE if self.eof else Wait(EVENT_READ)

    def _fill(self) -> None:
        """Read what has arrived through the loop's scratch buffer (only the loop thread
        reads): a held connection keeps just the bytes it sent."""
        while len(self.buffer) <= protocol.MAX_HEAD_BYTES and not self.eof:
            try:
                count = self.sock.recv_into(self.scratch)
            except _WOULD_BLOCK:
                return
            self.eof = not count
            self.buffer += self.scratch[:count]

    def _take_head(self, now: float) -> Step | None:
        """A Step once the head is complete (or cannot be); None to go on to the body."""
        if self.idle and self.buffer.lstrip(b"\r\n"):
            self.idle, self.deadline = False, now + HEAD_TIMEOUT  # a new request has begun
        del self.buffer[:len(self.buffer) - len(self.buffer.lstrip(b"\r\n"))]
        end = protocol.find_head_end(self.buffer)
        if (end[0] if end else len(self.buffer)) > protocol.MAX_HEAD_BYTES:
            return self.fail(BadRequest(431, "Request header fields too large\n"), now)
        if end is None:
            return CLOSE if self.eof else Wait(EVENT_READ)
        raw = bytes(self.buffer[:end[0]])
        del self.buffer[:end[1]]
        try:
            self.head = protocol.parse_head(raw)
            self.body_left = 0 if self.head.expects_continue else self.head.body_length()
        except BadRequest as error:
            return self.fail(error, now)
        if self.body_left:
            self.phase, self.deadline = Phase.BODY, now + HEAD_TIMEOUT
            return None
        return self._dispatch()

    def _skip_body(self, now: float) -> Step:
        taken = min(len(self.buffer), self.body_left)
        del self.buffer[:taken]
        self.body_left -= taken
        if self.body_left:
            return CLOSE if self.eof else Wait(EVENT_READ)
        return self._dispatch()

    def _dispatch(self) -> Step:
        assert self.head is not None
        self.phase = Phase.WORKING
        return Dispatch(self.head)

    def _write(self, now: float) -> Step:
        while self.out:
            try:
                sent = self.sock.send(self.out[0])
            except ssl.SSLWantReadError:
                return Wait(EVENT_READ)
            except (BlockingIOError, ssl.SSLWantWriteError):
                return Wait(EVENT_WRITE)
            self.deadline = now + WRITE_TIMEOUT  # progress: the client is reading
            if sent < len(self.out[0]):
                self.out[0] = self.out[0][sent:]
            else:
                self.out.popleft()
        return self._written(now)

    def _written(self, now: float) -> Step:
        # Expect: 100-continue was answered without reading the body: the client must not
        # send it now, so the connection cannot carry another request.
        if not self.keep_alive or self.head is None or self.head.expects_continue:
            return CLOSE
        self.phase, self.head, self.idle = Phase.HEAD, None, True
        self.deadline = now + IDLE_TIMEOUT
        return self._read(now)
