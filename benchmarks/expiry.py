"""What staleness costs a scrape: 1,400 targets (30 coins each) polled every 30 s, staggered,
with the default stale_after (300 s), scraped every 0.6 s over 12 intervals on a simulated
clock, in-process. Prints the scrape's render time (median, slowest, how many over 5 ms) for
this tree and for --baseline-rev (each in a process of its own).

    python benchmarks/expiry.py                        # baseline 0553b81: before the heap
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS, COINS, INTERVAL, ROUNDS, SCRAPE_EVERY = 1400, 30, 30.0, 12, 47  # a scrape per 47 polls


def measure() -> list[float]:
    from exporter.bybit.endpoints.wallet import COIN_FIELDS
    from exporter.service.catalogue import SERVED
    from exporter.metrics.family import WALLET_HEALTH
    from exporter.metrics.fields import Sample, Translation
    from exporter.metrics.render import FastExposition
    from exporter.service.store import Store, TargetKey, TargetSpec

    class Clock:
        now = 1_000.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    store = Store(stale_after=300.0, clock=clock)
    exposition = FastExposition(store, SERVED)
    labels = (("account_type", "UNIFIED"),)
    keys = [TargetKey(f"account{i:04}", "wallet", labels) for i in range(TARGETS)]
    store.set_targets({key: TargetSpec(WALLET_HEALTH, INTERVAL, labels) for key in keys})
    answer = Translation(tuple(Sample(field.family, (f"COIN{c}",), 1.5)
                               for c in range(COINS) for field in COIN_FIELDS[:2]))
    times = []
    for round_ in range(ROUNDS):
        for i, key in enumerate(keys):
            clock.now = 1_000 + round_ * INTERVAL + i * INTERVAL / TARGETS
            store.record_success(key, answer, 0.1, 5)
            if i % SCRAPE_EVERY == 0:
                started = time.perf_counter()
                exposition.render(gzip=True)
                times.append(time.perf_counter() - started)
    return times


def run(tree: Path) -> str:
    out = subprocess.run([sys.executable, __file__, "--measure"], cwd=tree, check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(tree)})
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-rev", default="0553b81")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        times = measure()
        print(f"{len(times)} scrapes: median {statistics.median(times) * 1000:.2f} ms, slowest "
              f"{max(times) * 1000:.2f} ms, over 5 ms: {sum(t > 0.005 for t in times)}")
        return
    sys.path.insert(0, str(REPO))
    from benchmarks.bench import baseline_tree

    with tempfile.TemporaryDirectory() as tmp:
        base = baseline_tree(Path(tmp), args.baseline_rev)
        print(f"this tree:           {run(REPO)}")
        print(f"baseline {args.baseline_rev}:    {run(base)}")


if __name__ == "__main__":
    main()
