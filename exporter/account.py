"""One account as the config gives it: its key (a Secret) and its settings. The Bybit client
and the endpoint modules read it; it imports nothing from them, so that the config (which
checks collector names against the endpoint modules) and the client depend one way."""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNT_TYPES = ("UNIFIED", "CONTRACT", "SPOT")

ENDPOINTS = {
    "mainnet": "https://api.bybit.com",
    "bytick": "https://api.bytick.com",
    "testnet": "https://api-testnet.bybit.com",
    "demo": "https://api-demo.bybit.com",
    "nl": "https://api.bybit.nl",
    "tr": "https://api.bybit.tr",
    "kz": "https://api.bybit.kz",
    "ge": "https://api.bybitgeorgia.ge",
    "ae": "https://api.bybit.ae",
    "eu": "https://api.bybit.eu",
    "id": "https://api.bybit.id",
    "jp": "https://api.manepa.jp",
}

# the collectors polled when the config names none (exporter.config checks each is known)
DEFAULT_COLLECT = ("wallet", "account_info", "positions", "orders", "borrowing", "options",
                   "assets", "funding", "api_key", "transactions")


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Account:
    name: str
    api_key: Secret
    api_secret: Secret | None
    rsa_private_key: Secret | None
    account_types: tuple[str, ...]
    coins: tuple[str, ...]
    endpoint: str
    recv_window_ms: int
    poll_interval: float
    collect: tuple[str, ...] = DEFAULT_COLLECT
    allow_insecure_http: bool = False
    intervals: tuple[tuple[str, float], ...] = ()  # collector -> interval asked for
    transactions_since: float = 0.0  # seconds of history to backfill on a first start

    def interval_asked(self, collector: str) -> float | None:
        return dict(self.intervals).get(collector)

    @property
    def key_type(self) -> str:
        return "rsa" if self.rsa_private_key else "hmac"
