"""--web.config.file, in the Prometheus exporter-toolkit format: TLS (optionally with client
certificates) and basic auth with bcrypt hashes."""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.config import ConfigError

TOP_KEYS = {"tls_server_config", "basic_auth_users"}
TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
            "max_version"}
CLIENT_AUTH = {"NoClientCert": ssl.CERT_NONE, "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
               "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_BCRYPT = re.compile(r"^\$2[aby]?\$\d\d\$[./A-Za-z0-9]{53}$")
_CACHE_LIMIT = 1024


@dataclass
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # user -> bcrypt hash
    _verified: set[tuple[str, bytes]] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def needs_auth(self) -> bool:
        return bool(self.users)

    def authorized(self, header: str | None) -> bool:
        """True if no users are configured, or the Basic credentials match a bcrypt hash.
        bcrypt is slow on purpose: a success is remembered (as a SHA-256, not the password)
        so that every scrape does not pay for it again."""
        if not self.users:
            return True
        user, password = _basic_credentials(header)
        if user is None:
            return False
        fingerprint = (user, hashlib.sha256(f"{user}:{password}".encode()).digest())
        if fingerprint in self._verified:
            return True
        import bcrypt

        hashed = self.users.get(user)
        # an unknown user costs one bcrypt too, so timing does not tell which users exist
        ok = bcrypt.checkpw(password.encode(), hashed or _dummy_hash()) and hashed is not None
        if ok:
            with self._lock:
                if len(self._verified) >= _CACHE_LIMIT:
                    self._verified.clear()
                self._verified.add(fingerprint)
        return ok


_dummy: list[bytes] = []


def _dummy_hash() -> bytes:
    import bcrypt

    if not _dummy:
        _dummy.append(bcrypt.hashpw(b"no such user", bcrypt.gensalt(10)))
    return _dummy[0]


def _basic_credentials(header: str | None) -> tuple[str | None, str]:
    if not header or not header.startswith("Basic "):
        return None, ""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, ""
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, "")


def load(path: str) -> WebConfig:
    where = "web.config.file"
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError([f"{where}: cannot read {path}: {reason}"]) from None
    except yaml.YAMLError:
        raise ConfigError([f"{where}: {path} is not valid YAML"]) from None
    if raw is None:
        return WebConfig()
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError([f"{where}: must be a mapping"])
    problems += [f"{where}: {key}: unknown key (allowed: {', '.join(sorted(TOP_KEYS))})"
                 for key in raw if key not in TOP_KEYS]
    users = _users(raw.get("basic_auth_users"), problems, where)
    context = _tls(raw.get("tls_server_config"), file.parent, problems, where)
    if problems:
        raise ConfigError(problems)
    return WebConfig(ssl_context=context, users=users)


def _users(raw: Any, problems: list[str], where: str) -> dict[str, bytes]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        problems.append(f"{where}: basic_auth_users: must be a mapping of user: bcrypt hash")
        return {}
    users: dict[str, bytes] = {}
    for user, hashed in raw.items():
        if not isinstance(user, str) or ":" in user or not user:
            problems.append(f"{where}: basic_auth_users: user names must be non-empty strings "
                            "without ':'")
        elif not isinstance(hashed, str) or not _BCRYPT.match(hashed):
            problems.append(f"{where}: basic_auth_users.{user}: not a bcrypt hash "
                            "(make one with: htpasswd -nBC 10 '' | tr -d ':')")
        else:
            users[user] = hashed.encode()
    return users


def _tls(raw: Any, base: Path, problems: list[str], where: str) -> ssl.SSLContext | None:
    if raw is None:
        return None
    where = f"{where}: tls_server_config"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    before = len(problems)
    problems += [f"{where}.{key}: unknown or unsupported key (allowed: "
                 f"{', '.join(sorted(TLS_KEYS))})" for key in raw if key not in TLS_KEYS]
    for key in ("cert_file", "key_file"):
        if not isinstance(raw.get(key), str):
            problems.append(f"{where}.{key}: required")
    ca_file = raw.get("client_ca_file")
    auth = raw.get("client_auth_type", "RequireAndVerifyClientCert" if ca_file else "NoClientCert")
    if auth not in CLIENT_AUTH:
        problems.append(f"{where}.client_auth_type: must be one of {', '.join(CLIENT_AUTH)}")
    elif CLIENT_AUTH[auth] != ssl.CERT_NONE and not isinstance(ca_file, str):
        problems.append(f"{where}.client_ca_file: required for client_auth_type {auth}")
    versions: dict[str, ssl.TLSVersion] = {}
    for key in ("min_version", "max_version"):
        if key in raw and raw[key] not in TLS_VERSIONS:
            problems.append(f"{where}.{key}: must be one of {', '.join(TLS_VERSIONS)}")
        elif key in raw:
            versions[key] = TLS_VERSIONS[raw[key]]
    if len(problems) > before:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = versions.get("min_version", ssl.TLSVersion.TLSv1_2)
    if "max_version" in versions:
        context.maximum_version = versions["max_version"]
    try:
        context.load_cert_chain(base / raw["cert_file"], base / raw["key_file"])
    except (OSError, ssl.SSLError) as exc:
        problems.append(f"{where}: cannot load cert_file/key_file: {_ssl_reason(exc)}")
        return None
    if CLIENT_AUTH[auth] != ssl.CERT_NONE:
        try:
            context.load_verify_locations(base / str(ca_file))  # a str: checked above
        except (OSError, ssl.SSLError) as exc:
            problems.append(f"{where}.client_ca_file: cannot load: {_ssl_reason(exc)}")
            return None
        context.verify_mode = CLIENT_AUTH[auth]
    return context


def _ssl_reason(exc: Exception) -> str:
    reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None)
    return str(reason) if reason else type(exc).__name__
