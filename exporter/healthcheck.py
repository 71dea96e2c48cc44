"""`python3 -m exporter.healthcheck`: exit 0 if the local exporter answers /-/healthy.

For container HEALTHCHECKs: needs nothing but Python, follows BYBIT_EXPORTER_WEB_LISTEN_ADDRESS
(the first address when it holds several, separated by commas or whitespace), and also works
when the exporter serves TLS (the certificate is not checked: this only asks the process on
this host whether it is alive)."""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request

from exporter.web.addresses import (
    DEFAULT_LISTEN_ADDRESS,
    format_address,
    parse_listen_address,
    split_listen_addresses,
)

ENV = "BYBIT_EXPORTER_WEB_LISTEN_ADDRESS"
_LOCAL = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # every interface: loopback


def target() -> str:
    """'host:port' to ask, from the first listen address."""
    addresses = split_listen_addresses([os.environ.get(ENV, "")]) or [DEFAULT_LISTEN_ADDRESS]
    host, port = parse_listen_address(addresses[0])
    return format_address(_LOCAL.get(host, host), port)


def healthy(address: str, timeout: float = 4.0) -> bool:
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    for scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(f"{scheme}://{address}/-/healthy", timeout=timeout,
                                        context=insecure if scheme == "https" else None) as r:
                if r.status == 200:
                    return True
        except OSError:
            continue
    return False


def main() -> int:
    try:
        address = target()
    except ValueError as exc:
        print(f"healthcheck: {ENV}: {exc}", file=sys.stderr)
        return 1
    return 0 if healthy(address) else 1


if __name__ == "__main__":
    sys.exit(main())
