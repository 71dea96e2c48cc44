"""The status page's view of a running Exporter: every target's latest state, when it will be
polled next, and the exporter's own facts, as the StatusView that exporter.web.status renders
(the web layer defines what it is given; the service fills it). Read only."""

from __future__ import annotations

import math
import time
from typing import Callable

from exporter.build import build_info
from exporter.service.exporter import Exporter
from exporter.service.poller import Poller
from exporter.service.store import TargetState
from exporter.web.status import FAILING, PENDING, UP, StatusView, TargetRow


def status_view(exporter: Exporter, clock: Callable[[], float] = time.time,
                monotonic: Callable[[], float] = time.monotonic) -> StatusView:
    now, now_mono = clock(), monotonic()
    info = build_info()
    runs = exporter.scheduler.next_runs()
    pollers = {(name, collector): poller for name, runner in list(exporter.runners.items())
               for collector, poller in runner.pollers.items()}
    stale_after = exporter.store.stale_after
    rows = tuple(
        _row(state, now, stale_after,
             _next_poll(runs.get(f"{state.key.account}/{state.key.collector}"),
                        pollers.get((state.key.account, state.key.collector)), now, now_mono))
        for state in exporter.store.states())
    web_ok = exporter.web_config_ok is None or exporter.web_config_ok()
    return StatusView(
        now=now, version=info.version, revision=info.revision, shard=exporter.shard.index,
        total_shards=exporter.shard.total, reload_ok=exporter.reload_ok,
        reload_success_time=exporter.reload_success_time, web_config_ok=web_ok,
        budget_in_use=exporter.budget.in_use(), budget_limit=exporter.budget.limit,
        budget_window=exporter.budget.window, rows=rows)


def _row(state: TargetState, now: float, stale_after: float,
         next_poll: float | None) -> TargetRow:
    if not state.attempted:
        condition = PENDING
    else:
        condition = UP if state.up else FAILING
    translation = state.translation
    unreadable = tuple(translation.unreadable) if translation is not None else ()
    stale = state.last_success is not None and now - state.last_success > stale_after
    return TargetRow(
        account=state.key.account, collector=state.key.collector, labels=_labels(state),
        state=condition, reason=state.failure_reason or "",  # a StrEnum: a str
        message=state.failure_message, last_success=state.last_success,
        interval=state.interval, next_poll=next_poll, unreadable=unreadable,
        rate_limit_remaining=state.rate_limit_remaining, stale=stale)


def _labels(state: TargetState) -> tuple[tuple[str, str], ...]:
    """The target's own labels, but the collector's name: its column says it."""
    labels, collector = state.key.labels, ("collector", state.key.collector)
    if labels == (collector,):  # most targets: nothing else
        return ()
    return tuple(label for label in labels if label != collector)


def _next_poll(scheduled: float | None, poller: Poller | None, now: float,
               now_mono: float) -> float | None:
    """The next scheduled run that will poll: a run during a back-off is skipped, so past
    one, the first run after the back-off ends (runs come every interval, a run moving
    to its phase aside)."""
    if scheduled is None or poller is None:
        return scheduled
    backoff_end = now + (poller.not_before - now_mono)
    if backoff_end <= scheduled or poller.interval <= 0:
        return scheduled
    return scheduled + math.ceil((backoff_end - scheduled) / poller.interval) * poller.interval

