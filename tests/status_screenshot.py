"""docs/status-page.png, the status page of `--demo` as headless Chromium shows it:

    .venv/bin/python -m tests.status_screenshot [PATH]

It starts `python -m exporter --demo`, waits until demo-classic's refused collectors have
failed (the page then has a failing account, unfolded, above the others), and takes the whole
page, 1360 pixels wide."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.browser import Browser
from tests.conftest import REPO, ExporterProcess, debian_tool, sample, wait_for

DEFAULT = REPO / "docs" / "status-page.png"


def main(path: Path) -> None:
    exporter = ExporterProcess(["--demo"])
    try:
        exporter.wait_ready(timeout=30)
        for collector in ("assets", "funding"):
            wait_for(lambda: sample(exporter.samples(), "bybit_collector_up",
                                    account="demo-classic", collector=collector) == 0.0,
                     timeout=30)
        time.sleep(5)  # a few polls: ages of seconds, as a running exporter shows
        with tempfile.TemporaryDirectory() as profile, \
                Browser(debian_tool("chromium", "chromium"), Path(profile), width=1360) as page:
            page.open(exporter.url + "/")
            page.screenshot(path)
    finally:
        exporter.stop()
    print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
