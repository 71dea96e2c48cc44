"""`helm test`: every shard's pod answers /-/ready with 200 and /metrics with the exporter's
metrics. Run by python3 of the exporter's own image; arguments: [--credentials=DIR] and one
base URL per shard.

Basic auth credentials are files, DIR/username and DIR/password (never environment variables).
Over HTTPS the certificate is not checked: this asks whether the pods serve; Prometheus'
tlsConfig checks who they are."""

import base64
import pathlib
import ssl
import sys
import urllib.error
import urllib.request

EXPECTED = b"bybit_exporter_build_info"  # served by every shard, with accounts or without


def authorization(folder):
    if folder is None:
        return {}
    pair = ((folder / "username").read_text().strip() + ":"
            + (folder / "password").read_text().strip())
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def fetch(url, headers, context):
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except OSError as error:
        return None, str(error).encode()


def main(arguments):
    folder = None
    if arguments and arguments[0].startswith("--credentials="):
        folder = pathlib.Path(arguments[0].split("=", 1)[1])
    bases = arguments[1:] if folder else arguments
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    headers, failures = authorization(folder), 0
    for base in bases:
        for path in ("/-/ready", "/metrics"):
            status, body = fetch(base + path, headers, context)
            ok = status == 200 and (path != "/metrics" or EXPECTED in body)
            failures += not ok
            detail = "" if ok else " " + (body.decode(errors="replace")[:200] or "no metrics")
            print(f"{'ok  ' if ok else 'FAIL'} {base}{path}: {status}{detail}", flush=True)
    return 1 if failures or not bases else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
