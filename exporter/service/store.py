"""The latest poll outcome of every target: written by polls, read by scrapes."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping

from exporter.metrics.family import HealthFamilies
from exporter.metrics.fields import Translation
from exporter.metrics.reasons import Reason
# The snapshot types live with the renderer, which must not import the polling side; they are
# re-exported here for the polling side's own modules.
from exporter.metrics.snapshot import Listener as Listener
from exporter.metrics.snapshot import RemovalListener as RemovalListener
from exporter.metrics.snapshot import TargetKey as TargetKey
from exporter.metrics.snapshot import TargetState as TargetState


@dataclass(frozen=True)
class TargetSpec:
    health: HealthFamilies
    interval: float
    value_labels: tuple[tuple[str, str], ...] = ()


class Store:
    """Thread-safe. A listener hears of every new state in the thread that wrote it (a poll),
    so that work derived from a state is done there and not on a scrape."""

    def __init__(self, stale_after: float, clock: Callable[[], float] = time.time):
        self.stale_after = stale_after
        self.clock = clock
        self._states: dict[TargetKey, TargetState] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._removal_listeners: list[RemovalListener] = []
        self.version = 0  # bumped on every change; lets readers cache

    def listen(self, listener: Listener, removed: RemovalListener | None = None) -> None:
        self._listeners.append(listener)
        if removed is not None:
            self._removal_listeners.append(removed)

    def set_targets(self, specs: Mapping[TargetKey, TargetSpec]) -> None:
        """Track exactly these targets: new ones start empty, missing ones are forgotten, the
        others keep their state (with the interval now in force)."""
        changed = []
        with self._lock:
            states = {}
            for key, spec in specs.items():
                old = self._states.get(key)
                state = old or TargetState(key, spec.health, spec.interval, spec.value_labels)
                if (state.interval, state.health, state.value_labels) != \
                        (spec.interval, spec.health, spec.value_labels):
                    state = dataclasses.replace(state, interval=spec.interval, health=spec.health,
                                                value_labels=spec.value_labels)
                if state is not old:
                    changed.append((state, old))
                states[key] = state
            gone = [key for key in self._states if key not in states]
            self._states = states
            self.version += 1
        for state, old in changed:
            self._notify(state, old)
        for key in gone:
            for removed in self._removal_listeners:
                removed(key)

    def record_success(self, key: TargetKey, translation: Translation, duration: float,
                       rate_limit_remaining: int | None) -> None:
        now = self.clock()
        self._update(key, lambda state: dataclasses.replace(
            state, translation=translation, last_success=now, up=True, attempted=True,
            duration=duration, rate_limit_remaining=rate_limit_remaining, failure_reason=None,
            failure_message=""))

    def record_failure(self, key: TargetKey, reason: Reason, duration: float | None,
                       message: str = "") -> None:
        def failed(state: TargetState) -> TargetState:
            errors = dict(state.errors)
            errors[reason] += 1
            return dataclasses.replace(
                state, up=False, attempted=True, errors=errors, failure_reason=reason,
                failure_message=message,
                duration=duration if duration is not None else state.duration)

        self._update(key, failed)

    def states(self) -> list[TargetState]:
        with self._lock:
            return list(self._states.values())

    def current(self, key: TargetKey) -> TargetState | None:
        """The target's latest state; None once it is forgotten."""
        with self._lock:
            return self._states.get(key)

    def ready(self) -> bool:
        with self._lock:
            return all(state.attempted for state in self._states.values())

    def _update(self, key: TargetKey, change: Callable[[TargetState], TargetState]) -> None:
        # Updates of one target come from one poll job at a time, so the state read here is
        # still current when written back, unless the target was removed (config reload).
        with self._lock:
            state = self._states.get(key)
        if state is None:
            return
        new_state = change(state)
        with self._lock:
            written = self._states.get(key) is state
            if written:
                self._states[key] = new_state
                self.version += 1
        if written:  # a target removed meanwhile is not heard of again
            self._notify(new_state, state)

    def _notify(self, state: TargetState, previous: TargetState | None) -> None:
        for listener in self._listeners:
            listener(state, previous)
