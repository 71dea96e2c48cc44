"""The process_* series, named and documented as prometheus_client's ProcessCollector has them,
read with a handful of system calls per scrape. The stock collector counts open files by
listing /proc/self/fd: a readdir per descriptor (425 at 200 accounts), each letting go of the
interpreter lock, which a scrape then waited to take back behind the polls' threads while polls
landed: the slowest scrapes were slow there. Linux 6.2 and later give the count as the size of
that directory; older kernels are listed as before. The few system calls left are made through
the C library with the lock held (ctypes.PyDLL): each takes microseconds, where taking the lock
back from a busy poll thread takes up to the switch interval (5 ms).
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.metrics.lines import format_value

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
        return size_of(self.fds) or len(os.listdir(self.fds))


_SMALL = 4096  # /proc/self/stat is a few hundred bytes
_AT_FDCWD, _STATX_SIZE, _STATX_BYTES, _STATX_SIZE_AT = -100, 0x200, 256, 40  # <linux/stat.h>


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library's open, read, close and statx, called with the interpreter lock held;
    None where they cannot be had (then os's functions are used)."""
    try:
        libc = ctypes.PyDLL(None, use_errno=True)
        signatures = {"open": ((ctypes.c_char_p, ctypes.c_int), ctypes.c_int),
                      "read": ((ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t), ctypes.c_ssize_t),
                      "close": ((ctypes.c_int,), ctypes.c_int),
                      "statx": ((ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_char_p), ctypes.c_int)}
        for name, (arguments, result) in signatures.items():
            function = getattr(libc, name)
            function.argtypes, function.restype = arguments, result
    except (OSError, AttributeError):  # no C library to load, or one without statx
        return None
    return libc


def _failed(call: str, path: Path) -> OSError:
    error = ctypes.get_errno()
    return OSError(error, f"{call}: {os.strerror(error)}", str(path))


def read_small(path: Path) -> bytes:
    """A file of a few hundred bytes, in three system calls (open, read, close)."""
    libc = _libc()
    if libc is None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return os.read(fd, _SMALL)
        finally:
            os.close(fd)
    fd = libc.open(os.fsencode(path), os.O_RDONLY | os.O_CLOEXEC)
    if fd < 0:
        raise _failed("open", path)
    try:
        buffer = ctypes.create_string_buffer(_SMALL)
        count = libc.read(fd, buffer, _SMALL)
        if count < 0:
            raise _failed("read", path)
        return buffer.raw[:count]
    finally:
        libc.close(fd)


def size_of(path: Path) -> int:
    """A file's size (of /proc/self/fd: the open descriptors, on Linux 6.2 and later)."""
    libc = _libc()
    if libc is None:
        return os.stat(path).st_size
    buffer = ctypes.create_string_buffer(_STATX_BYTES)
    if libc.statx(_AT_FDCWD, os.fsencode(path), 0, _STATX_SIZE, buffer) != 0:
        raise _failed("statx", path)
    return int.from_bytes(buffer.raw[_STATX_SIZE_AT:_STATX_SIZE_AT + 8], sys.byteorder)


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
