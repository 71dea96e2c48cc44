"""--web.config.file, read again when it or a file it names (certificate, key, client CA)
changes, as exporter-toolkit does: a renewed certificate or a changed user list applies to new
connections and requests without a restart. An invalid new file leaves the previous one in
force, is logged once, and `reload_ok` says so until a valid file is read. TLS is not turned on
or off this way (a file without tls_server_config must not downgrade a listener to plain
HTTP): that takes a restart."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol

import yaml

from exporter.config import ConfigError
from exporter.web.webconfig import WebConfig, load

log = logging.getLogger("exporter.web")

CHECK_EVERY = 1.0  # seconds: at most one look at the files per second, however many clients
_FILE_KEYS = ("cert_file", "key_file", "client_ca_file")


class WebConfigSource(Protocol):
    """What the server asks, for each new connection and each request."""

    def current(self) -> WebConfig: ...


class FixedWebConfig:
    """A WebConfig that never changes (no --web.config.file, or tests)."""

    def __init__(self, web: WebConfig):
        self.web = web
        self.reload_ok = True

    def current(self) -> WebConfig:
        return self.web


class WatchedWebConfig:
    """Thread-safe. `current()` is the config in force, checked against the files at most
    every `check_every` seconds (by content, so a rewrite within one mtime tick is seen)."""

    def __init__(self, path: str, first: WebConfig | None = None,
                 check_every: float = CHECK_EVERY,
                 clock: Callable[[], float] = time.monotonic):
        self.path = path
        self.check_every = check_every
        self._clock = clock
        self._seen = fingerprint(path)  # before loading: a change meanwhile is seen later
        self._web = first if first is not None else load(path)
        self._checked = clock()
        self._lock = threading.Lock()
        self.reload_ok = True

    def current(self) -> WebConfig:
        if self._clock() - self._checked >= self.check_every:
            with self._lock:
                if self._clock() - self._checked >= self.check_every:
                    self._check()
                    self._checked = self._clock()
        return self._web

    def _check(self) -> None:
        seen = fingerprint(self.path)
        if seen == self._seen:
            return
        self._seen = seen
        try:
            web = load(self.path)
            if (web.ssl_context is None) != (self._web.ssl_context is None):
                raise ConfigError([f"web.config.file: tls_server_config: TLS cannot be turned "
                                   f"{'off' if web.ssl_context is None else 'on'} without a "
                                   "restart"])
        except ConfigError as exc:
            self.reload_ok = False
            log.error("web config reload refused, the previous one stays in force",
                      extra={"fields": {"file": self.path, "problems": "; ".join(exc.problems)}})
            return
        self._web, self.reload_ok = web, True
        log.info("web config reloaded", extra={"fields": {
            "file": self.path, "tls": web.ssl_context is not None,
            "basic_auth": web.needs_auth}})


def fingerprint(path: str) -> bytes:
    """A digest of the file and of every file it names; a missing file counts as empty."""
    digest = hashlib.sha256()
    text = _read(Path(path))
    digest.update(text)
    for named in named_files(text, Path(path).parent):
        digest.update(b"\0" + str(named).encode() + b"\0" + _read(named))
    return digest.digest()


def named_files(text: bytes, base: Path) -> list[Path]:
    """The certificate, key and CA files a web config names (relative to its folder)."""
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    tls = raw.get("tls_server_config") if isinstance(raw, dict) else None
    if not isinstance(tls, dict):
        return []
    return [base / tls[key] for key in _FILE_KEYS if isinstance(tls.get(key), str)]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""
