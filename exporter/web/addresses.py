"""Listen addresses: `--web.listen-address` values and the sockets bound for them."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable

DEFAULT_PORT = 10788
DEFAULT_LISTEN_ADDRESS = f":{DEFAULT_PORT}"
BACKLOG = 1024  # Prometheus replicas, probes and bursts of reconnections arriving together
_SEPARATORS = re.compile(r"[\s,]+")


def parse_listen_address(text: str) -> tuple[str, int]:
    """'host:port', ':port' (every interface) or '[::1]:port'."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"must be HOST:PORT, e.g. :10788 or 127.0.0.1:10788 (got {text!r})")
    host = host.strip("[]")
    return host, int(port)


def split_listen_addresses(values: Iterable[str]) -> list[str]:
    """Every address of repeated flags, each of which may hold several separated by commas or
    whitespace (as BYBIT_EXPORTER_WEB_LISTEN_ADDRESS can)."""
    return [part for value in values for part in _SEPARATORS.split(value) if part]


def parse_listen_addresses(values: Iterable[str]) -> list[tuple[str, int]]:
    """parse_listen_address for every address of `values`, duplicates dropped, order kept."""
    parsed = [parse_listen_address(text) for text in split_listen_addresses(values)]
    return list(dict.fromkeys(parsed))


def format_address(host: str, port: int) -> str:
    """The inverse of parse_listen_address: ':10788', '127.0.0.1:10788', '[::1]:10788'."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket for (host, port); '' is every interface, IPv4 and IPv6 when the host
    has both. An OSError names the address (as its filename)."""
    try:
        if not host and socket.has_dualstack_ipv6():
            return socket.create_server(("", port), family=socket.AF_INET6, backlog=BACKLOG,
                                        dualstack_ipv6=True)
        family, address = _resolve(host, port)
        return socket.create_server(address, family=family, backlog=BACKLOG)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), format_address(host, port)) from exc


def _resolve(host: str, port: int) -> tuple[socket.AddressFamily, tuple[str, int]]:
    """The first address of a host name, IPv4 first (as the exporter always bound)."""
    found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)
    found.sort(key=lambda info: info[0] != socket.AF_INET)
    family, _, _, _, address = found[0]
    return family, (str(address[0]), int(address[1]))
