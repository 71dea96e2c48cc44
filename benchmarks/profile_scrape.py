"""Where an uncached scrape's time goes while polls land: the real exporter process against the
simulated Bybit, scraped once a second, sampled by py-spy (installed into .venv only).

    python benchmarks/profile_scrape.py                      # 200 accounts, every collector
    python benchmarks/profile_scrape.py --interval 600s      # the same, few polls landing
    python benchmarks/profile_scrape.py --py-spy             # also sample the process

Prints the scrape latencies and, with --py-spy, the share of the web worker threads' samples
spent in each function of the /metrics path, with and without the interpreter lock held
(py-spy --gil marks samples whose thread held it).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench import percentile, running  # noqa: E402
from benchmarks.scraper import timed_scrapes  # noqa: E402


def summarize(raw: Path, top: int, inside: str) -> None:
    """Collapsed stacks that pass through `inside` (a frame's text), by their innermost frame
    and by every frame of the exporter's own code they pass through (inclusive)."""
    innermost: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if inside not in stack:
            continue
        frames = stack.split(";")
        total += int(count)
        innermost[_short(frames[-1])] += int(count)
        for frame in set(frames):
            if "exporter/" in frame:
                inclusive[_short(frame).split(":")[0]] += int(count)
    print(f"  samples through {inside!r}: {total}")
    for title, counter in (("innermost frame", innermost), ("inclusive", inclusive)):
        print(f"  by {title}:")
        for name, count in counter.most_common(top):
            print(f"    {100 * count / max(total, 1):5.1f} %  {name}")


def _short(frame: str) -> str:
    function, _, where = frame.partition(" (")
    return f"{function} {where.rstrip(')').rsplit('/', 1)[-1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--coins", type=int, default=30)
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--interval", default="30s")
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--py-spy", action="store_true")
    parser.add_argument("--collect", default=None, help="e.g. wallet; default: every collector")
    parser.add_argument("--inside", default="_metrics (exporter/web/routes.py",
                        help="summarize the stacks through this frame; '' for all")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between scrapes")
    parser.add_argument("--count", type=int, default=0, help="scrapes (default: --seconds)")
    parser.add_argument("--no-scrape", dest="scrape", action="store_false",
                        help="no scrapes: only the polls' CPU")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    collect = args.collect.split(",") if args.collect else None
    with tempfile.TemporaryDirectory() as tmp, \
            running(Path(tmp), args.accounts, args.coins, args.interval, collect=collect,
                    positions=args.positions, funding=True) as (_, _, _, exporter, _):
        ready = exporter.wait_ready(timeout=600, targets=args.accounts * (6 if collect is None
                                                                         else len(collect)))
        print(f"  every target polled once after {ready:.1f} s; settling 10 s", flush=True)
        time.sleep(10)
        spy = None
        raw = Path(tmp) / "spy.txt"
        if args.py_spy:
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            spy = subprocess.Popen([py_spy, "record", "--pid", str(exporter.proc.pid),
                                    "--format", "raw", "--output", str(raw), "--threads",
                                    "--rate", "200", "--duration", str(args.seconds),
                                    "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu, wall = exporter.cpu_seconds(), time.monotonic()
        if args.scrape:  # from a process of its own: the simulator's threads are not in its way
            times = timed_scrapes(exporter.port, args.count or args.seconds, args.pause)
        else:
            time.sleep(args.seconds)
            times = [0.0]
        print(f"  {len(times)} scrapes, {args.pause:g} s apart, polls every {args.interval}: "
              f"median {statistics.median(times) * 1000:.1f} ms, "
              f"p99 {percentile(times, 0.99) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")
        print(f"  exporter RSS {exporter.rss_mb():.1f} MB, CPU "
              f"{100 * (exporter.cpu_seconds() - cpu) / (time.monotonic() - wall):.1f} % of a core")
        if spy is not None:
            spy.wait(args.seconds + 300)
            summarize(raw, args.top, args.inside)


if __name__ == "__main__":
    main()
