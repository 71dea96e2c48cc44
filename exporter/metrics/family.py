"""What a metric family is (name, type, unit, help, labels), and the families that belong to no
endpoint: health and exporter-wide. The endpoint modules declare their own families;
exporter.service.catalogue lists them all."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Type(enum.StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    labels: tuple[str, ...] = ()  # beyond the target's own labels (account, ...)
    type: Type = Type.GAUGE
    unit: str = ""  # usd, ratio, seconds, or "" for amounts in a coin and counts
    note: str = ""  # for the metrics table of docs/metrics.md only

    def header(self) -> str:
        escaped = self.help.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {self.name} {escaped}\n# TYPE {self.name} {self.type}\n"


def gauge(name: str, help_text: str, *labels: str, note: str = "") -> Family:
    return Family(name, help_text, tuple(labels), Type.GAUGE, _unit_of(name), note)


def _unit_of(name: str) -> str:
    for unit in ("usd", "ratio", "seconds"):
        if name.endswith("_" + unit):
            return unit
    return ""


@dataclass(frozen=True)
class HealthFamilies:
    """The health series of one kind of target: wallet-balance's account types keep the
    names they always had; every other collector has its own set."""

    up: Family
    last_success: Family
    duration: Family
    errors: Family
    failing: Family
    rate_limit_remaining: Family
    interval: Family

    def all(self) -> tuple[Family, ...]:
        return (self.up, self.last_success, self.duration, self.errors, self.failing,
                self.rate_limit_remaining, self.interval)


def _health(prefix: str, poll: str, what: str) -> HealthFamilies:
    return HealthFamilies(
        up=gauge(f"{prefix}up", f"1 if the last poll of this {what} succeeded."),
        last_success=gauge(f"{prefix}last_success_timestamp_seconds",
                           f"Unix time of the last successful poll of this {what}."),
        duration=gauge(f"{prefix}{poll}duration_seconds", "Duration of the last poll, in seconds."),
        errors=Family(f"{prefix}{poll}errors_total", "Failed polls, by reason.", ("reason",),
                      Type.COUNTER),
        failing=gauge(f"{prefix}{poll}failing",
                      "1 while the last poll failed, labelled with the reason; absent after a "
                      "success.", "reason"),
        rate_limit_remaining=gauge(
            f"{prefix}rate_limit_remaining",
            "Requests left in Bybit's per-UID rate limit window (X-Bapi-Limit-Status)."),
        interval=gauge(f"{prefix}{poll}interval_seconds", "Poll interval in force, in seconds."),
    )


WALLET_HEALTH = _health("bybit_", "poll_", "account type")
COLLECTOR_HEALTH = _health("bybit_collector_", "", "collector")

INVALID_FIELDS = gauge(
    "bybit_invalid_fields",
    "Fields of the last answer that could not be read; their series are missing.")

BUILD_INFO = gauge("bybit_exporter_build_info", "Build of the exporter; always 1.",
                   "version", "revision", "branch", "pythonversion")
SHARD_INFO = gauge("bybit_exporter_shard_info",
                   "The shard this process polls, of how many; always 1.", "shard", "total_shards")
RELOAD_OK = gauge("bybit_config_last_reload_successful", "1 if the last config reload succeeded.")
RELOAD_TIME = gauge("bybit_config_last_reload_success_timestamp_seconds",
                    "Unix time of the last successful config load.")
WEB_CONFIG_RELOAD_OK = gauge(
    "bybit_exporter_web_config_last_reload_successful",
    "1 if the --web.config.file in force is the file as it now is; 0 while a changed file is "
    "refused (the previous one stays in force).")
EXPORTER_FAMILIES = (BUILD_INFO, SHARD_INFO, RELOAD_OK, RELOAD_TIME, WEB_CONFIG_RELOAD_OK)
