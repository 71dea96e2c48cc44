"""`python3 -m exporter.healthcheck`: exit 0 if the local exporter answers /-/healthy.

For container HEALTHCHECKs: needs nothing but Python, follows BYBIT_EXPORTER_WEB_LISTEN_ADDRESS,
and also works when the exporter serves TLS (the certificate is not checked: this only asks
the process on this host whether it is alive)."""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request

from exporter.cli import DEFAULT_PORT


def main() -> int:
    address = os.environ.get("BYBIT_EXPORTER_WEB_LISTEN_ADDRESS", f":{DEFAULT_PORT}")
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    host = "127.0.0.1" if host in ("", "0.0.0.0") else ("::1" if host == "::" else host)
    host = f"[{host}]" if ":" in host else host
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    for scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(f"{scheme}://{host}:{port}/-/healthy", timeout=4,
                                        context=insecure if scheme == "https" else None) as r:
                if r.status == 200:
                    return 0
        except OSError:
            continue
    return 1


if __name__ == "__main__":
    sys.exit(main())
