"""The process_* series, named and documented as prometheus_client's ProcessCollector has them,
read with a handful of system calls per scrape. The stock collector counts open files by
listing /proc/self/fd: a readdir per descriptor (425 at 200 accounts), each letting go of the
interpreter lock, which a scrape then waited to take back behind the polls' threads while polls
landed: the slowest scrapes were slow there. Linux 6.2 and later give the count as the size of
that directory; older kernels are listed as before.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Iterator

from prometheus_client import ProcessCollector
from prometheus_client.metrics_core import Metric

START_TIME = "process_start_time_seconds"  # read once: a process starts once


class ProcessMetrics:
    """A prometheus_client collector: the stock collector's families (read once, at start, for
    their names, help, types and the start time) with values read again at each collect()."""

    def __init__(self, proc: Path = Path("/proc/self")):
        self.proc = proc
        self.templates = ProcessCollector(registry=None).collect()  # none where /proc is not
        self.start_time = {sample.name: sample.value for family in self.templates
                           for sample in family.samples if sample.name == START_TIME}
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self.ticks = os.sysconf("SC_CLK_TCK")

    def collect(self) -> Iterator[Metric]:
        values = self.read() if self.templates else {}
        for template in self.templates:
            sample = template.samples[0]
            if sample.name in values:  # a value that could not be read is left out
                family = Metric(template.name, template.documentation, template.type)
                family.samples = [sample._replace(value=values[sample.name])]
                yield family

    def read(self) -> dict[str, float]:
        values = dict(self.start_time)
        try:
            parts = read_small(self.proc / "stat").rsplit(b")", 1)[1].split()
            values["process_virtual_memory_bytes"] = float(parts[20])
            values["process_resident_memory_bytes"] = float(parts[21]) * self.page_size
            values["process_cpu_seconds_total"] = (float(parts[11]) + float(parts[12])) / self.ticks
        except (OSError, IndexError, ValueError):
            pass
        try:
            values["process_open_fds"] = float(self.open_files())
        except OSError:
            pass
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY:
            values["process_max_fds"] = float(soft)
        return values

    def open_files(self) -> int:
        return os.stat(self.proc / "fd").st_size or len(os.listdir(self.proc / "fd"))


def read_small(path: Path) -> bytes:
    """A file of a few hundred bytes in three system calls (open, read, close): each lets go of
    the interpreter lock, and Path.read_bytes makes six."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)
