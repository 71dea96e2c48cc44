"""The latest poll outcome of every (account, account_type): written by polls, read by scrapes."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from exporter.bybit.client import REASONS
from exporter.translate import Snapshot

Target = tuple[str, str]  # (account name, account type)


def _zero_errors() -> Mapping[str, int]:
    return {reason: 0 for reason in REASONS}


@dataclass(frozen=True)
class TargetState:
    """Immutable: every update makes a new one, so readers never see a half-written state."""

    account: str
    account_type: str
    snapshot: Snapshot | None = None
    last_success: float | None = None
    up: bool = False
    attempted: bool = False
    poll_duration: float | None = None
    errors: Mapping[str, int] = field(default_factory=_zero_errors)
    rate_limit_remaining: int | None = None
    poll_interval: float | None = None
    failure_reason: str | None = None  # why the last poll failed; None after a success
    rendered: Any = field(default=None, compare=False, repr=False)  # see Store(render=...)

    def fresh_snapshot(self, now: float, stale_after: float) -> Snapshot | None:
        """The last good values, unless older than `stale_after`."""
        if self.snapshot is None or self.last_success is None:
            return None
        return self.snapshot if now - self.last_success <= stale_after else None


class Store:
    """Thread-safe. `render`, if given, derives a state's exposition when the state is written
    (in the polling thread), so that scrapes only read."""

    def __init__(self, stale_after: float, clock: Callable[[], float] = time.time,
                 render: Callable[[TargetState, TargetState | None], Any] | None = None):
        self.stale_after = stale_after
        self.clock = clock
        self.render = render
        self._states: dict[Target, TargetState] = {}
        self._lock = threading.Lock()
        self.version = 0  # bumped on every change; lets renderers cache
        self.reload_ok = True
        self.reload_success_time: float | None = None

    def set_targets(self, intervals: Mapping[Target, float]) -> None:
        """Track exactly these targets, with their poll intervals: new ones start empty,
        missing ones are forgotten, the others keep their state."""
        with self._lock:
            states = {}
            for target, interval in intervals.items():
                state = self._states.get(target)
                if state is None or state.poll_interval != interval:
                    base = state or TargetState(*target)
                    state = self._rendered(dataclasses.replace(base, poll_interval=interval), state)
                states[target] = state
            self._states = states
            self.version += 1

    def set_reload_result(self, ok: bool, when: float | None) -> None:
        with self._lock:
            self.reload_ok = ok
            if ok:
                self.reload_success_time = when
            self.version += 1

    def record_success(self, target: Target, snapshot: Snapshot, duration: float,
                       rate_limit_remaining: int | None) -> None:
        now = self.clock()
        self._update(target, lambda state: dataclasses.replace(
            state, snapshot=snapshot, last_success=now, up=True, attempted=True,
            poll_duration=duration, rate_limit_remaining=rate_limit_remaining,
            failure_reason=None))

    def record_failure(self, target: Target, reason: str, duration: float | None) -> None:
        def failed(state: TargetState) -> TargetState:
            errors = dict(state.errors)
            errors[reason] += 1
            return dataclasses.replace(
                state, up=False, attempted=True, errors=errors, failure_reason=reason,
                poll_duration=duration if duration is not None else state.poll_duration)

        self._update(target, failed)

    def states(self) -> list[TargetState]:
        with self._lock:
            return list(self._states.values())

    def ready(self) -> bool:
        with self._lock:
            return all(state.attempted for state in self._states.values())

    def _update(self, target: Target, change: Callable[[TargetState], TargetState]) -> None:
        # Updates of one target come from one poll job at a time, so the state read here is
        # still current when written back, unless the target was removed (config reload).
        with self._lock:
            state = self._states.get(target)
        if state is None:
            return
        new_state = self._rendered(change(state), state)
        with self._lock:
            if self._states.get(target) is state:
                self._states[target] = new_state
                self.version += 1

    def _rendered(self, state: TargetState, previous: TargetState | None) -> TargetState:
        if self.render is None:
            return state
        return dataclasses.replace(state, rendered=self.render(state, previous))
