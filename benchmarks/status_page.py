"""The status page at 2,000 accounts x the default collectors, beside the /metrics scrape.

    python benchmarks/status_page.py                  # about 3 minutes
    python benchmarks/status_page.py --accounts 500   # smaller

One process: the simulated Bybit (a thread) and the exporter's service (the real Exporter,
scheduler and store) polling it, with the web server on loopback. Every 20th account's key
lacks the Wallet permission, so its assets and funding collectors fail (with Bybit's message)
as they would in a real fleet. Once every target has been polled (the request budget is raised
for the fill only: 2,000 accounts take minutes at the default 400 per 5 s), it measures, while
polls keep landing:

- the status page: gathering the view (store, scheduler, budget) and rendering its HTML;
- GET / (every account, the failing ones unfolded), GET /?account=<one account's name> and
  GET /metrics over HTTP, as a browser and as Prometheus ask (gzip);

each interleaved, so both see the same machine load. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench import fleet, quiet, write_config  # noqa: E402
from exporter.bybit.budget import RequestBudget  # noqa: E402
from exporter.config import DEFAULT_COLLECT, load_file  # noqa: E402
from exporter.service.exporter import Exporter  # noqa: E402
from exporter.service.status import status_view  # noqa: E402
from exporter.simulator import BybitSimulator, KeyInfo, without  # noqa: E402
from exporter.web import WebApp, WebConfig, serve  # noqa: E402
from exporter.web.status import render  # noqa: E402

FILL_BUDGET = 5000  # requests per 5 s while every target is polled the first time


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def get(port: int, path: str) -> tuple[bytes, bytes]:
    """(body as sent, body decompressed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status)
        plain = gzip.decompress(body) if response.getheader("Content-Encoding") == "gzip" \
            else body
        return body, plain
    finally:
        conn.close()


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms"


def fill(exporter: Exporter, targets_wanted: int, timeout: float) -> float:
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        states = exporter.store.states()
        if len(states) >= targets_wanted and all(s.attempted for s in states):
            return time.monotonic() - started
        time.sleep(0.5)
    raise RuntimeError("not every target was polled in time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the failing collectors' "poll failed" lines
    sim_accounts, names = fleet(args.accounts, 10, positions=5, funding=True)
    for account in sim_accounts[::20]:
        account.key = KeyInfo(permissions=without("Wallet"))
    sim = quiet(BybitSimulator(sim_accounts)).start()
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.yaml"
        write_config(config_path, sim, sim_accounts, names, "600s", collect=None)
        config = load_file(config_path)
    budget = RequestBudget(limit=FILL_BUDGET)
    exporter = Exporter(config, budget=budget)
    server = serve(WebApp(exporter.render_metrics, exporter.ready,
                          status=lambda: status_view(exporter)), [("127.0.0.1", 0)], WebConfig())
    port = server.addresses[0][1]
    print(f"== status page: {args.accounts} accounts x the default collectors "
          f"({', '.join(DEFAULT_COLLECT)}), 10 coins, 5 positions", flush=True)
    try:
        exporter.start()
        targets = len(exporter.store.states())
        took = fill(exporter, targets, timeout=900)
        budget.limit = 400  # the default again, for the measured part
        print(f"  {targets} targets, all polled once in {took:.0f} s", flush=True)
        measure(exporter, port, args.runs)
    finally:
        server.shutdown()
        exporter.stop()
        sim.stop()


def measure(exporter: Exporter, port: int, runs: int) -> None:
    gather, draw, page_http, one_http, metrics_http, metrics_fn = [], [], [], [], [], []
    view = status_view(exporter)
    names = sorted({row.account for row in view.rows})
    one = "/?account=" + names[len(names) // 2]  # one account's whole name
    for _ in range(runs):  # interleaved: each pair sees the same load
        time.sleep(0.2)  # polls land meanwhile: /metrics finds its cache stale
        metrics_fn.append(timed(lambda: exporter.render_metrics(True)))
        gather.append(timed(lambda: status_view(exporter)))
        draw.append(timed(lambda: render(view)))
        time.sleep(0.2)
        metrics_http.append(timed(lambda: get(port, "/metrics")))
        page_http.append(timed(lambda: get(port, "/")))
        one_http.append(timed(lambda: get(port, one)))
    page_sent, page = get(port, "/")
    metrics_sent, metrics = get(port, "/metrics")
    failing = page.count(b'<tr class="failing">')
    print(f"  status page: {page.count(b'<details class=')} accounts "
          f"({page.count(b' open><summary>')} unfolded), {page.count(b'<tr class=')} collector "
          f"rows ({failing} failing)")
    print(f"  status page, gather the view       {ms(gather)}")
    print(f"  status page, render the HTML       {ms(draw)}")
    print(f"  /metrics, render (a poll landed)   {ms(metrics_fn)}")
    print(f"  GET /        over HTTP, gzip        {ms(page_http)}   "
          f"{len(page_sent) / 1e6:.2f} MB sent, {len(page) / 1e6:.2f} MB of HTML")
    print(f"  GET {one:<22} gzip  {ms(one_http)}")
    print(f"  GET /metrics over HTTP, gzip        {ms(metrics_http)}   "
          f"{len(metrics_sent) / 1e6:.2f} MB sent, {len(metrics) / 1e6:.2f} MB of text",
          flush=True)

if __name__ == "__main__":
    main()
