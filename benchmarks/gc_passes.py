"""The garbage collector's full passes in a long-running exporter: they hold the interpreter
lock, and a scrape that comes meanwhile waits for them. 200 accounts x every collector (30
coins, 20 positions) polled every 30 s, for --minutes after every target's first poll; each
minute's number of full passes and the slowest, for this tree and for --baseline-rev (one
after the other, each in a process of its own, started through a script that logs every full
pass and then runs exporter.cli.main).

    python benchmarks/gc_passes.py                          # 10 minutes each, baseline 7f3149b
    python benchmarks/gc_passes.py --minutes 3 --baseline-rev ''   # this tree only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench import baseline_tree, every_target, running  # noqa: E402

LAUNCHER = '''import gc, sys, time
log = open(sys.argv.pop(1), "a", buffering=1)
began = [0.0]
def full_pass(phase, info):
    if info["generation"] == 2 and phase == "start":
        began[0] = time.monotonic()
    elif info["generation"] == 2:
        log.write(f"{time.monotonic():.6f} {time.monotonic() - began[0]:.6f}\\n")
gc.callbacks.append(full_pass)
from exporter.cli import main
sys.exit(main())
'''


def passes(tmp: Path, code: Path, minutes: int) -> tuple[float, list[list[float]]]:
    """Seconds from start to every target polled once; then each minute's full passes (s)."""
    launcher, log = tmp / "gc_logged.py", tmp / f"passes-{code.name}.txt"
    launcher.write_text(LAUNCHER)
    with running(tmp, 200, 30, "30s", collect=None, positions=20, funding=True, code=code,
                 launcher=(str(launcher), str(log))) as (_, _, _, exporter, _):
        ready = exporter.wait_ready(timeout=900, targets=every_target(200))
        began = time.monotonic()
        time.sleep(minutes * 60)
    by_minute: list[list[float]] = [[] for _ in range(minutes)]
    for line in log.read_text().splitlines():
        at, took = map(float, line.split())
        if 0 <= at - began < minutes * 60:
            by_minute[int((at - began) // 60)].append(took)
    return ready, by_minute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--baseline-rev", default="7f3149b", help="'' for this tree only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trees = [("this tree", REPO)]
        if args.baseline_rev:
            trees.append((args.baseline_rev, baseline_tree(tmp, args.baseline_rev)))
        for title, code in trees:
            ready, by_minute = passes(tmp, code, args.minutes)
            print(f"\n== {title}: 200 accounts x every collector, 30 s; every target polled "
                  f"{ready:.0f} s after start; full passes in each minute after that")
            print("  minute  passes  slowest ms  all, ms")
            for minute, took in enumerate(by_minute, 1):
                slowest = f"{max(took) * 1000:10.1f}" if took else f"{'-':>10}"
                print(f"  {minute:6d}  {len(took):6d}  {slowest}  "
                      + " ".join(f"{t * 1000:.1f}" for t in took), flush=True)


if __name__ == "__main__":
    main()
