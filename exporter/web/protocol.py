"""HTTP/1.x on the wire: request heads in, response heads out. No sockets here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus

MAX_HEAD_BYTES = 32 * 1024  # request line + headers; Prometheus sends well under 1 KiB
MAX_BODY_BYTES = 64 * 1024  # nothing here reads a body: it is only skipped
SERVER = "bybit-exporter"
TEXT = "text/plain; charset=utf-8"

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VERSION = re.compile(r"^HTTP/1\.[01]$")


class BadRequest(Exception):
    """A request that cannot be answered normally: answered with `status` and closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens

    @property
    def expects_continue(self) -> bool:
        return self.headers.get("expect", "").lower() == "100-continue"

    def body_length(self) -> int:
        """Bytes of body that follow the head; BadRequest for bodies this server will not skip."""
        if "transfer-encoding" in self.headers:
            raise BadRequest(411, "Request bodies need a Content-Length\n")
        text = self.headers.get("content-length", "0").strip()
        if not text.isdigit():
            raise BadRequest(400, "Bad Content-Length\n")
        if int(text) > MAX_BODY_BYTES:
            raise BadRequest(413, "Request body too large\n")
        return int(text)


def find_head_end(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """(end of the head, start of what follows) once the blank line has arrived."""
    match = _HEAD_END.search(buffer)
    return (match.start(), match.end()) if match else None


def parse_head(raw: bytes) -> RequestHead:
    lines = raw.decode("latin-1").split("\n")
    parts = lines[0].rstrip("\r").split(" ")
    if (len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]
            or not parts[2].startswith("HTTP/")):
        raise BadRequest(400, "Bad request line\n")
    if not _VERSION.match(parts[2]):
        raise BadRequest(505, "Only HTTP/1.0 and HTTP/1.1 are supported\n")
    return RequestHead(parts[0], parts[1], parts[2], _headers(lines[1:]))


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.rstrip("\r").partition(":")
        if not sep or not _TOKEN.match(name):  # also refuses folded lines and "Name :"
            raise BadRequest(400, "Bad header line\n")
        name, value = name.lower(), value.strip(" \t")
        if name in headers and name in ("content-length", "host"):
            raise BadRequest(400, f"Repeated {name} header\n")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def response_head(status: int, headers: tuple[tuple[str, str], ...], keep_alive: bool,
                  version: str = "HTTP/1.1") -> bytes:
    """Status line and headers, with Server, Date and the Connection header that fits."""
    lines = [f"HTTP/1.1 {status} {_phrase(status)}", f"Server: {SERVER}",
             f"Date: {formatdate(usegmt=True)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if not keep_alive:
        lines.append("Connection: close")
    elif version == "HTTP/1.0":
        lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
