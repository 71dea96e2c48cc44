"""What the renderer is given: the latest poll outcome of one target, as an immutable value,
and the interface of whatever holds them. The polling side (exporter.service.store) keeps and
updates these; the rendering side reads them and imports nothing from the polling side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol

from exporter.metrics.family import HealthFamilies
from exporter.metrics.fields import Translation
from exporter.metrics.reasons import REASONS, Reason


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


Listener = Callable[[TargetState, "TargetState | None"], None]
RemovalListener = Callable[[TargetKey], None]


class StateSource(Protocol):
    """Where target states come from: the renderer hears of every new state in the thread
    that made it, and of every target forgotten."""

    stale_after: float
    clock: Callable[[], float]

    def listen(self, listener: Listener, removed: RemovalListener | None = None) -> None: ...

    def states(self) -> list[TargetState]: ...

    def current(self, key: TargetKey) -> TargetState | None: ...
