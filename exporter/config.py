"""Load and validate the YAML config: strict, every problem reported at once, secrets wrapped."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

# What an account is and may be lives in exporter.account, which the Bybit client reads
# without importing this module; they are re-exported here for the config's users.
from exporter.account import ACCOUNT_TYPES as ACCOUNT_TYPES
from exporter.account import DEFAULT_COLLECT as DEFAULT_COLLECT
from exporter.account import ENDPOINTS as ENDPOINTS
from exporter.account import Account as Account
from exporter.account import Secret as Secret
from exporter.bybit import signing
from exporter.bybit.endpoints import BY_COLLECTOR
from exporter.config_syntax import StrictLoader, is_loopback, os_reason, yaml_reason
from exporter.config_syntax import format_duration as format_duration
from exporter.config_syntax import parse_duration as parse_duration

DEFAULTS = {"poll_interval": 30.0, "timeout": 10.0, "stale_after": 300.0}
# collectors that only a Unified account answers: what each reads
UNIFIED_ONLY = {"transactions": "the Unified account's transaction log",
                "orders": "the Unified account's open orders",
                "borrowing": "the Unified account's collateral info",
                "options": "the Unified account's option greeks and margin",
                "mmp": "the Unified account's market-maker protection"}
MAX_HISTORY_SECONDS = 730 * 86400.0  # Bybit keeps two years of the transaction log
TOP_KEYS = {"poll_interval", "timeout", "stale_after", "collect", "accounts", "intervals",
            "transactions_since"}
ACCOUNT_KEYS = {
    "name", "api_key", "api_key_file", "api_secret", "api_secret_file", "rsa_private_key_file",
    "account_types", "coins", "endpoint", "allow_insecure_http", "recv_window", "poll_interval",
    "collect", "intervals", "transactions_since",
}
CREDENTIAL_KEYS = ("api_secret", "api_secret_file", "rsa_private_key_file")

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_COIN = re.compile(r"^[A-Z0-9]+$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_URL = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


@dataclass(frozen=True)
class Config:
    accounts: tuple[Account, ...]
    poll_interval: float = DEFAULTS["poll_interval"]
    timeout: float = DEFAULTS["timeout"]
    stale_after: float = DEFAULTS["stale_after"]


class ConfigError(Exception):
    """All problems found in one config, each a line naming its field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def load_file(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"config.file: cannot read {path}: {os_reason(exc)}"]) from None
    return load_text(text, base_dir=path.parent,
                     environ=os.environ if environ is None else environ)


def load_text(text: str, base_dir: Path = Path("."),
              environ: Mapping[str, str] | None = None) -> Config:
    try:
        raw = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a strict SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError([f"config: not valid YAML: {yaml_reason(exc)}"]) from None
    return build(raw, base_dir, os.environ if environ is None else environ)


def build(raw: Any, base_dir: Path, environ: Mapping[str, str]) -> Config:
    checker = _Checker(base_dir, environ)
    config = checker.config(raw)
    if checker.problems or config is None:
        raise ConfigError(checker.problems or ["config: not valid"])
    return config


@dataclass(frozen=True)
class _AccountDefaults:
    """What the top level gives every account that does not say otherwise."""

    poll_interval: float
    collect: tuple[str, ...] | None  # None: the defaults
    intervals: dict[str, float]
    since: float


@dataclass
class _Checker:
    base_dir: Path
    environ: Mapping[str, str]
    problems: list[str] = field(default_factory=list)

    def fail(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def config(self, raw: Any) -> Config | None:
        if not isinstance(raw, dict):
            self.fail("config", "must be a mapping with an 'accounts' list")
            return None
        self.unknown_keys(raw, TOP_KEYS, "config")
        durations = {key: self.duration(raw, key, key, DEFAULTS[key]) for key in DEFAULTS}
        defaults = _AccountDefaults(
            durations["poll_interval"], self.collect(raw.get("collect"), "collect", None),
            self.intervals(raw.get("intervals"), "intervals"),
            self.since(raw, "transactions_since", 0.0))
        accounts = self.accounts(raw.get("accounts"), defaults)
        for account in accounts:
            if account.poll_interval > durations["stale_after"]:
                self.fail("stale_after", f"({format_duration(durations['stale_after'])}) must be "
                          f"at least the poll_interval of account {account.name} "
                          f"({format_duration(account.poll_interval)})")
        if self.problems:
            return None
        return Config(accounts=tuple(accounts), **durations)

    def unknown_keys(self, raw: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in raw:
            if key not in allowed:
                self.fail(f"{where}.{key}" if where != "config" else str(key),
                          f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def duration(self, raw: dict[str, Any], key: str, where: str, default: float) -> float:
        if raw.get(key) is None:
            return default
        try:
            return parse_duration(raw[key])
        except ValueError as exc:
            self.fail(where, f"{exc} (got {raw[key]!r})")
            return default

    def accounts(self, raw: Any, defaults: _AccountDefaults) -> list[Account]:
        if not isinstance(raw, list) or not raw:
            self.fail("accounts", "must be a non-empty list of accounts")
            return []
        accounts, seen = [], set()
        for index, item in enumerate(raw):
            account = self.account(item, f"accounts[{index}]", defaults)
            if account is None:
                continue
            if account.name in seen:
                self.fail(f"accounts[{index}].name", f"duplicate account name {account.name!r}")
            seen.add(account.name)
            accounts.append(account)
        return accounts

    def account(self, raw: Any, where: str, defaults: _AccountDefaults) -> Account | None:
        if not isinstance(raw, dict):
            self.fail(where, "must be a mapping")
            return None
        before = len(self.problems)
        self.unknown_keys(raw, ACCOUNT_KEYS, where)
        name = self.name(raw.get("name"), f"{where}.name")
        api_key = self.api_key(raw, where)
        api_secret, rsa_key = self.credential(raw, where)
        insecure = self.boolean(raw.get("allow_insecure_http"), f"{where}.allow_insecure_http")
        types = self.account_types(raw.get("account_types"), f"{where}.account_types")
        poll_interval = self.duration(raw, "poll_interval", f"{where}.poll_interval",
                                      defaults.poll_interval)
        own_intervals = self.intervals(raw.get("intervals"), f"{where}.intervals")
        account = Account(
            name=name or "",
            api_key=Secret(api_key or ""),
            api_secret=api_secret,
            rsa_private_key=rsa_key,
            account_types=types,
            coins=self.coins(raw.get("coins"), f"{where}.coins"),
            endpoint=self.endpoint(raw.get("endpoint"), f"{where}.endpoint", insecure),
            recv_window_ms=self.recv_window(raw.get("recv_window"), f"{where}.recv_window"),
            poll_interval=poll_interval,
            collect=self.account_collect(raw.get("collect"), f"{where}.collect", types,
                                         defaults.collect),
            allow_insecure_http=insecure,
            intervals=self.intervals_in_force(own_intervals, defaults.intervals, poll_interval,
                                              where),
            transactions_since=self.since(raw, "transactions_since", defaults.since, where),
        )
        return account if len(self.problems) == before else None

    def name(self, raw: Any, where: str) -> str | None:
        if not isinstance(raw, str) or not _NAME.match(raw):
            self.fail(where, "required: letters, digits, '_', '.' or '-'")
            return None
        return raw

    def expand(self, value: str, where: str) -> str | None:
        """Replace ${VAR} with the environment's value; an unset variable is a problem."""
        missing = [m for m in _ENV_REF.findall(value) if m not in self.environ]
        if missing:
            self.fail(where, f"environment variable {missing[0]} is not set")
            return None
        return _ENV_REF.sub(lambda m: self.environ[m.group(1)], value)

    def required_string(self, raw: dict[str, Any], key: str, where: str) -> str | None:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{where}.{key}", "required: a non-empty string")
            return None
        expanded = self.expand(value, f"{where}.{key}")
        if expanded is not None and not expanded.strip():
            self.fail(f"{where}.{key}", "is empty after environment substitution")
            return None
        return expanded.strip() if expanded else None

    def api_key(self, raw: dict[str, Any], where: str) -> str | None:
        if raw.get("api_key_file") is None:
            return self.required_string(raw, "api_key", where)
        if raw.get("api_key") is not None:
            self.fail(where, "set one of api_key, api_key_file (got both)")
            return None
        path = self.required_string(raw, "api_key_file", where)
        text = self.read_secret_file(path, f"{where}.api_key_file") if path else None
        return text.strip() if text else None

    def boolean(self, raw: Any, where: str) -> bool:
        if raw is None:
            return False
        if not isinstance(raw, bool):
            self.fail(where, f"must be true or false (got {raw!r})")
            return False
        return raw

    def collect(self, raw: Any, where: str, default: tuple[str, ...] | None
                ) -> tuple[str, ...] | None:
        if raw is None:
            return default
        return self.unique_strings(raw, where, lambda v: v in BY_COLLECTOR,
                                   f"one of {', '.join(BY_COLLECTOR)}", allow_empty=False)

    def account_collect(self, raw: Any, where: str, types: tuple[str, ...],
                        default: tuple[str, ...] | None) -> tuple[str, ...]:
        """The account's own list, else the top-level one, else the defaults; a collector of
        the Unified account's log is left out by default where there is none, and refused
        when asked for."""
        own = self.collect(raw, where, None)
        chosen = own if own is not None else default
        if "UNIFIED" in types:
            return chosen if chosen is not None else DEFAULT_COLLECT
        for collector in UNIFIED_ONLY:
            if own is not None and collector in own:
                self.fail(f"{where}[{own.index(collector)}]", f"{collector} reads "
                          f"{UNIFIED_ONLY[collector]}: account_types must include UNIFIED")
        return tuple(c for c in chosen or DEFAULT_COLLECT if c not in UNIFIED_ONLY)

    def intervals(self, raw: Any, where: str) -> dict[str, float]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.fail(where, "must be a mapping from collector name to duration")
            return {}
        found = {}
        for collector in raw:
            if collector not in BY_COLLECTOR:
                self.fail(f"{where}.{collector}",
                          f"unknown collector (one of {', '.join(BY_COLLECTOR)})")
            else:
                found[collector] = self.duration(raw, collector, f"{where}.{collector}", 0.0)
        return found

    def intervals_in_force(self, own: dict[str, float], inherited: dict[str, float],
                           poll_interval: float, where: str) -> tuple[tuple[str, float], ...]:
        intervals = {**inherited, **own}
        for collector, seconds in intervals.items():
            if 0 < seconds < poll_interval:
                field_name = (f"{where}.intervals.{collector}" if collector in own
                              else f"intervals.{collector} (for {where})")
                self.fail(field_name, f"({format_duration(seconds)}) must be at least the "
                          f"account's poll_interval ({format_duration(poll_interval)})")
        return tuple(sorted((c, s) for c, s in intervals.items() if s > 0))

    def since(self, raw: dict[str, Any], key: str, default: float, where: str = "") -> float:
        path = f"{where}.{key}" if where else key
        seconds = self.duration(raw, key, path, default)
        if seconds > MAX_HISTORY_SECONDS:
            self.fail(path, f"must be at most 730d: Bybit keeps two years (got {raw[key]!r})")
        return seconds

    def credential(self, raw: dict[str, Any], where: str) -> tuple[Secret | None, Secret | None]:
        given = [key for key in CREDENTIAL_KEYS if raw.get(key) is not None]
        if len(given) != 1:
            self.fail(where, "set exactly one of api_secret, api_secret_file, rsa_private_key_file"
                      + (f" (got {', '.join(given)})" if given else ""))
            return None, None
        key = given[0]
        if key == "api_secret":
            value = self.required_string(raw, key, where)
            return (Secret(value) if value else None), None
        path = self.required_string(raw, key, where)
        if path is None:
            return None, None
        text = self.read_secret_file(path, f"{where}.{key}")
        if text is None:
            return None, None
        if key == "api_secret_file":
            return Secret(text.strip()), None
        return None, self.rsa_key(text, f"{where}.{key}")

    def read_secret_file(self, path: str, where: str) -> str | None:
        full = self.base_dir / os.path.expanduser(path)
        try:
            text = full.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(where, f"cannot read {full}: {os_reason(exc)}")
            return None
        if not text.strip():
            self.fail(where, f"{full} is empty")
            return None
        return text

    def rsa_key(self, pem: str, where: str) -> Secret | None:
        try:
            signing.load_rsa_private_key(pem)
        except ValueError as exc:
            self.fail(where, str(exc))
            return None
        return Secret(pem)

    def account_types(self, raw: Any, where: str) -> tuple[str, ...]:
        if raw is None:
            return ("UNIFIED",)
        return self.unique_strings(raw, where, lambda v: v in ACCOUNT_TYPES,
                                   f"one of {', '.join(ACCOUNT_TYPES)}", allow_empty=False)

    def coins(self, raw: Any, where: str) -> tuple[str, ...]:
        if raw is None:
            return ()
        if isinstance(raw, list):
            raw = [c.upper() if isinstance(c, str) else c for c in raw]
        return self.unique_strings(raw, where, lambda v: bool(_COIN.match(v)),
                                   "a coin symbol of letters and digits", allow_empty=False)

    def unique_strings(self, raw: Any, where: str, valid: Callable[[str], bool],
                       expected: str, allow_empty: bool) -> tuple[str, ...]:
        if not isinstance(raw, list) or (not raw and not allow_empty):
            self.fail(where, "must be a non-empty list")
            return ()
        for index, value in enumerate(raw):
            if not isinstance(value, str) or not valid(value):
                self.fail(f"{where}[{index}]", f"must be {expected} (got {value!r})")
            elif raw.index(value) != index:
                self.fail(f"{where}[{index}]", f"duplicate {value!r}")
        return tuple(raw)

    def endpoint(self, raw: Any, where: str, insecure_allowed: bool) -> str:
        if raw is None:
            return ENDPOINTS["mainnet"]
        if isinstance(raw, str) and raw in ENDPOINTS:
            return ENDPOINTS[raw]
        if not isinstance(raw, str) or not _URL.match(raw.rstrip("/")):
            self.fail(where, f"must be one of {', '.join(ENDPOINTS)} or an http(s)://host[:port] "
                      f"URL (got {raw!r})")
            return ""
        url = raw.rstrip("/")
        if url.startswith("http://") and not insecure_allowed and not is_loopback(url):
            # the API key and every signature would travel in clear text, and a signature can
            # be replayed within recv_window
            self.fail(where, f"http:// sends the API key and signatures unencrypted: use https "
                      f"(or set allow_insecure_http: true) (got {url})")
        return url

    def recv_window(self, raw: Any, where: str) -> int:
        if raw is None:
            return 5000
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 60000:
            self.fail(where, f"must be a whole number of milliseconds from 1 to 60000 (got {raw!r})")
            return 5000
        return raw


def summary(config: Config) -> str:
    """A human summary for --config.check: no secret, not even its length."""
    lines = [f"poll_interval={format_duration(config.poll_interval)} "
             f"timeout={format_duration(config.timeout)} "
             f"stale_after={format_duration(config.stale_after)}",
             f"{len(config.accounts)} account(s):"]
    for account in config.accounts:
        coins = ",".join(account.coins) or "all"
        lines.append(f"  {account.name}: types={','.join(account.account_types)} coins={coins} "
                     f"endpoint={account.endpoint} key={account.key_type} "
                     f"poll_interval={format_duration(account.poll_interval)} "
                     f"recv_window={account.recv_window_ms}ms collect={','.join(account.collect)}"
                     + "".join(f" {c}_every={format_duration(s)}" for c, s in account.intervals)
                     + (f" transactions_since={format_duration(account.transactions_since)}"
                        if account.transactions_since else ""))
    return "\n".join(lines)
