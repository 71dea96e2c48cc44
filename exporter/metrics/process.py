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

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.metrics.render import format_value

START_TIME = "process_start_time_seconds"  # read once: a process starts once


class ProcessMetrics:
    """The stock collector's families, read once at start for their names, help, types and
    the start time (their HELP and TYPE lines rendered then, by the client library), with
    values read again at each render()."""

    def __init__(self, proc: Path = Path("/proc/self")):
        self.stat, self.fds = proc / "stat", proc / "fd"
        templates = ProcessCollector(registry=None).collect()  # none where /proc is not
        self.headers = {family.samples[0].name: _header(family) for family in templates}
        self.start_time = {sample.name: sample.value for family in templates
                           for sample in family.samples if sample.name == START_TIME}
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        self.ticks = os.sysconf("SC_CLK_TCK")

    def render(self) -> bytes:
        """The exposition text; a value that could not be read is left out with its family."""
        values = self.read() if self.headers else {}
        return "".join(f"{header}{name} {format_value(values[name])}\n"
                       for name, header in self.headers.items() if name in values).encode()

    def read(self) -> dict[str, float]:
        values = dict(self.start_time)
        try:
            parts = read_small(self.stat).rsplit(b")", 1)[1].split()
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
        return os.stat(self.fds).st_size or len(os.listdir(self.fds))


def read_small(path: Path) -> bytes:
    """A file of a few hundred bytes in three system calls (open, read, close): each lets go of
    the interpreter lock, and Path.read_bytes makes six."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


class _Fixed(Collector):
    def __init__(self, family: Metric):
        self.family = family

    def collect(self) -> list[Metric]:
        return [self.family]


def _header(family: Metric) -> str:
    """A family's HELP and TYPE lines, as generate_latest writes them (its last line is the
    family's one sample)."""
    registry = CollectorRegistry()
    registry.register(_Fixed(family))
    text = generate_latest(registry).decode()
    return text[:text.rindex("\n", 0, len(text) - 1) + 1]
