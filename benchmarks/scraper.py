"""Timed scrapes from a process of their own, so that the simulated Bybit's threads (in the
benchmark's process) do not slow the client down and count against the exporter. Each client
keeps its connection open from one scrape to the next, as Prometheus does (its HTTP client
keeps idle connections to a target for 5 minutes); with --new-connections, each scrape opens
one of its own.

    python benchmarks/scraper.py PORT COUNT PAUSE_SECONDS [--together N] [--new-connections]

Prints a JSON list of seconds, one per scrape (with --together N, N clients at once, each
COUNT scrapes, all times in one list).
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time

PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}


def scrape(conn: http.client.HTTPConnection) -> float:
    started = time.perf_counter()
    conn.request("GET", "/metrics", headers=PROMETHEUS_HEADERS)
    response = conn.getresponse()
    body = response.read()
    assert response.status == 200 and body and not response.will_close
    return time.perf_counter() - started


def series(port: int, count: int, pause: float, into: list[float],
           new_connections: bool) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(count):
            time.sleep(pause)
            if new_connections:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            into.append(scrape(conn))
    finally:
        conn.close()


def timed_scrapes(port: int, count: int, pause: float, together: int = 1,
                  new_connections: bool = False) -> list[float]:
    """Run this module in a process of its own; the times it measured."""
    out = subprocess.run([sys.executable, __file__, str(port), str(count), str(pause),
                          "--together", str(together),
                          *(("--new-connections",) if new_connections else ())],
                         capture_output=True, text=True, check=True, timeout=600)
    return list(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("pause", type=float)
    parser.add_argument("--together", type=int, default=1)
    parser.add_argument("--new-connections", action="store_true")
    args = parser.parse_args()
    times: list[float] = []
    threads = [threading.Thread(target=series, args=(args.port, args.count, args.pause, times,
                                                     args.new_connections))
               for _ in range(args.together)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(times))


if __name__ == "__main__":
    main()
