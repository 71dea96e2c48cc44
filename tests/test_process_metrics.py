"""The process_* series: what prometheus_client's stock collector serves, read more cheaply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.metrics import process
from exporter.metrics.process import ProcessMetrics

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux /proc only")


def parsed(text: bytes) -> dict[str, tuple[str, str, float]]:
    """family name -> (type, help, value) as a scrape parses them."""
    return {family.name: (family.type, family.documentation, family.samples[0].value)
            for family in text_string_to_metric_families(text.decode())}


def served(metrics: ProcessMetrics) -> dict[str, tuple[str, str, float]]:
    return parsed(metrics.render())


def test_the_same_families_and_values_as_the_stock_collector() -> None:
    ours = served(ProcessMetrics())
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    stock = parsed(generate_latest(registry))
    assert set(ours) == set(stock) and len(ours) == 6
    for name, (kind, help_text, value) in stock.items():
        assert ours[name][:2] == (kind, help_text)
        if name == "process_open_fds":  # the stock count includes the descriptor it lists with
            assert value - 1 <= ours[name][2] <= value
        elif name.endswith("_memory_bytes"):
            assert ours[name][2] == pytest.approx(value, rel=0.05)
        elif name == "process_cpu_seconds":
            assert ours[name][2] == pytest.approx(value, abs=0.5)
        else:
            assert ours[name][2] == value, name


def test_open_files_are_counted_as_they_open_and_close(tmp_path: Path) -> None:
    metrics = ProcessMetrics()
    before = served(metrics)["process_open_fds"][2]
    files = [open(tmp_path / f"f{i}", "w") for i in range(40)]
    try:
        assert served(metrics)["process_open_fds"][2] == before + 40
    finally:
        for file in files:
            file.close()
    assert served(metrics)["process_open_fds"][2] == before
    assert os.stat("/proc/self/fd").st_size in (0, before)  # 0: a kernel before 6.2


def test_what_cannot_be_read_is_left_out_not_served_stale(tmp_path: Path) -> None:
    """A /proc without the process's stat and fd: memory, CPU and open files are not served
    (no old or zero value in their place); what needs no /proc still is."""
    assert set(served(ProcessMetrics(proc=tmp_path))) == {"process_start_time_seconds",
                                                         "process_max_fds"}


def test_values_are_read_through_the_c_library_holding_the_interpreter_lock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """os's calls let go of the interpreter lock (and a scrape waits to take it back behind
    busy poll threads): with the C library at hand, none is made at a scrape."""
    expected = served(ProcessMetrics())

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an os call at a scrape")

    metrics = ProcessMetrics()
    counted = os.stat("/proc/self/fd").st_size > 0  # else (before Linux 6.2) listed
    for name in ("open", "read", "close", "stat", *(("listdir",) if counted else ())):
        monkeypatch.setattr(os, name, refused)
    ours = served(metrics)
    assert set(ours) == set(expected)
    assert ours["process_open_fds"][2] == expected["process_open_fds"][2]


def test_without_the_c_library_os_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    with_libc = served(ProcessMetrics())
    monkeypatch.setattr(process, "_libc", lambda: None)
    without = served(ProcessMetrics())
    assert set(without) == set(with_libc)
    assert without["process_open_fds"][2] == with_libc["process_open_fds"][2]
    assert without["process_resident_memory_bytes"][2] == pytest.approx(
        with_libc["process_resident_memory_bytes"][2], rel=0.05)
    assert set(served(ProcessMetrics(proc=Path("/nonexistent")))) == {
        "process_start_time_seconds", "process_max_fds"}
