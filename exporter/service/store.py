"""The latest poll outcome of every target: written by polls, read by scrapes."""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from exporter.bybit.errors import REASONS, Reason
from exporter.metrics.family import HealthFamilies
from exporter.metrics.fields import Translation


@dataclass(frozen=True, order=True)
class TargetKey:
    account: str
    collector: str
    labels: tuple[tuple[str, str], ...]  # the target's own labels, e.g. account_type


def _zero_errors() -> Mapping[Reason, int]:
    return {reason: 0 for reason in REASONS}


@dataclass(frozen=True)
class TargetState:
    """Immutable: every update makes a new one, so readers never see a half-written state."""

    key: TargetKey
    health: HealthFamilies
    interval: float
    value_labels: tuple[tuple[str, str], ...] = ()  # labels of its values beyond `account`
    translation: Translation | None = None
    last_success: float | None = None
    up: bool = False
    attempted: bool = False
    duration: float | None = None
    errors: Mapping[Reason, int] = field(default_factory=_zero_errors)
    rate_limit_remaining: int | None = None
    failure_reason: Reason | None = None  # why the last poll failed; None after a success
    failure_message: str = ""  # what Bybit (or the network) said of it, secrets blanked

    def fresh_translation(self, now: float, stale_after: float) -> Translation | None:
        """The last good values, unless older than `stale_after`."""
        if self.translation is None or self.last_success is None:
            return None
        return self.translation if now - self.last_success <= stale_after else None


@dataclass(frozen=True)
class TargetSpec:
    health: HealthFamilies
    interval: float
    value_labels: tuple[tuple[str, str], ...] = ()


Listener = Callable[[TargetState, TargetState | None], None]


class Store:
    """Thread-safe. A listener hears of every new state in the thread that wrote it (a poll),
    so that work derived from a state is done there and not on a scrape."""

    def __init__(self, stale_after: float, clock: Callable[[], float] = time.time):
        self.stale_after = stale_after
        self.clock = clock
        self._states: dict[TargetKey, TargetState] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self.version = 0  # bumped on every change; lets readers cache

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

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
            self._states = states
            self.version += 1
        for state, old in changed:
            self._notify(state, old)

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
        self._notify(new_state, state)
        with self._lock:
            if self._states.get(key) is state:
                self._states[key] = new_state
                self.version += 1

    def _notify(self, state: TargetState, previous: TargetState | None) -> None:
        for listener in self._listeners:
            listener(state, previous)
