"""A simulated Bybit V5: wallet-balance and market-time over real HTTP, with signatures, the
recv_window rule and the per-UID rate limit checked as Bybit documents them. Used by --demo and
by the tests. Balances drift with time so that dashboards move."""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import math
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs

from exporter.bybit import signing

WalletFn = Callable[[float], dict[str, Any]]
UID_LIMIT_PER_SECOND = 50

# Switchable faults, per account (SimAccount.fault) or for the whole server (BybitSimulator.fault)
FAULTS = ("hang", "slow", "http:500", "http:502", "ip_ban", "not_found", "truncated",
          "result_null", "list_empty", "garbage", "rate_limit", "rate_limit_bare",
          "ret:10003", "ret:10004", "ret:10005", "ret:10010", "ret:33004", "reset")
RET_MESSAGES = {
    10003: "API key is invalid.", 10004: "error sign!",
    10005: "Permission denied, please check your API key permissions.",
    10006: "Too many visits!", 10010: "Unmatched IP, please check your API key's bound IP addresses.",
    33004: "Your api key has expired.",
}
HTML_ERROR = b"<html><head><title>502 Bad Gateway</title></head><body>error</body></html>"
HTML_BAN = (b"<html><body><h1>403 Forbidden</h1>"
            b"<p>access too frequent, please try again later</p></body></html>")


@dataclass
class SimAccount:
    api_key: str
    wallets: dict[str, WalletFn]
    secret: str | None = None
    rsa_public_pem: str | None = None
    revoked: bool = False
    latency: float = 0.0  # seconds before each wallet-balance answer
    fault: str | None = None  # one of FAULTS, see BybitSimulator.inject
    hidden_coins: set[str] = field(default_factory=set)
    requests: int = 0
    queries: list[str] = field(default_factory=list)

    def entry(self, account_type: str, elapsed: float, coins: list[str] | None) -> dict:
        entry = dict(self.wallets[account_type](elapsed))
        entry["coin"] = [c for c in entry["coin"] if c["coin"] not in self.hidden_coins
                         and (not coins or c["coin"] in coins)]
        return entry


class _SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # hundreds of accounts connect at once (socketserver's default: 5)


class BybitSimulator:
    def __init__(self, accounts: list[SimAccount], host: str = "127.0.0.1", port: int = 0):
        self.accounts = {a.api_key: a for a in accounts}
        self.clock_offset_ms = 0  # the server's clock minus the real one
        self.time_endpoint_offset_ms = 0  # a /v5/market/time that lies by this much
        self.fault: str | None = None  # a fault for every account
        self.hang_seconds = 30.0
        self.slow_seconds = 0.5
        self.ret_codes: collections.Counter[int] = collections.Counter()  # every answer's retCode
        self.request_times: collections.deque[float] = collections.deque(maxlen=100_000)
        self.connections: set[socket.socket] = set()
        self.started = time.monotonic()
        self._uid_calls: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()
        handler = type("SimHandler", (_SimHandler,), {"sim": self})
        self.server = _SimServer((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "BybitSimulator":
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        name="simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections: clients now get refused."""
        self.server.shutdown()
        self.server.server_close()
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def uid_limit_status(self, api_key: str) -> tuple[int, int]:
        """Record a call in the key's rolling 1 s window: (calls left, reset time in ms)."""
        with self._lock:
            calls = self._uid_calls[api_key]
            now = time.monotonic()
            while calls and now - calls[0] >= 1.0:
                calls.popleft()
            calls.append(now)
            reset_ms = self.now_ms() + int((1.0 - (now - calls[0])) * 1000)
            return UID_LIMIT_PER_SECOND - len(calls), reset_ms


def _answer(code: int, message: str, result: Any = None, now_ms: int = 0) -> dict:
    return {"retCode": code, "retMsg": message, "result": result if result is not None else {},
            "retExtInfo": {}, "time": now_ms}


class _SimHandler(BaseHTTPRequestHandler):
    sim: BybitSimulator
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sim.connections.add(self.connection)

    def finish(self) -> None:
        self.sim.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802
        path, _, query = self.path.partition("?")
        if path == "/v5/market/time":
            now = self.sim.now_ms() + self.sim.time_endpoint_offset_ms
            self._json(_answer(0, "OK", {"timeSecond": str(now // 1000),
                                         "timeNano": str(now * 1_000_000)}, now))
        elif path == "/v5/account/wallet-balance":
            self._wallet_balance(query)
        else:
            self._raw(404, b"", "text/plain")

    def _wallet_balance(self, query: str) -> None:
        self.sim.request_times.append(time.monotonic())
        account = self.sim.accounts.get(self.headers.get("X-BAPI-API-KEY", ""))
        if account is not None:
            account.requests += 1
            if account.latency:
                time.sleep(account.latency)
        fault = (account.fault if account else None) or self.sim.fault
        if fault and self._inject(fault, account):
            return
        account, error = self._authenticate(query)
        if error:
            self._json(error)
            return
        account.queries.append(query)
        remaining, reset_ms = self.sim.uid_limit_status(account.api_key)
        limit_headers = {"X-Bapi-Limit": str(UID_LIMIT_PER_SECOND),
                         "X-Bapi-Limit-Status": str(max(remaining, 0)),
                         "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)}
        if remaining < 0:
            self._json(_answer(10006, "Too many visits!", now_ms=self.sim.now_ms()), limit_headers)
            return
        params = parse_qs(query)
        account_type = params.get("accountType", [""])[0]
        coins = [c for value in params.get("coin", []) for c in value.split(",") if c]
        if account_type not in account.wallets:
            supported = ",".join(account.wallets)
            self._json(_answer(10001, f"accountType only support {supported}",
                               now_ms=self.sim.now_ms()), limit_headers)
            return
        entry = account.entry(account_type, self.sim.elapsed(), coins)
        self._json(_answer(0, "OK", {"list": [entry]}, self.sim.now_ms()), limit_headers)

    def _authenticate(self, query: str) -> tuple[SimAccount | None, dict | None]:
        now = self.sim.now_ms()
        api_key = self.headers.get("X-BAPI-API-KEY", "")
        account = self.sim.accounts.get(api_key)
        if account is None or account.revoked:
            return None, _answer(10003, "API key is invalid.", now_ms=now)
        try:
            timestamp = int(self.headers.get("X-BAPI-TIMESTAMP", ""))
            recv_window = int(self.headers.get("X-BAPI-RECV-WINDOW", "5000"))
        except ValueError:
            return None, _answer(10001, "invalid request, please check your timestamp", now_ms=now)
        if not now - recv_window <= timestamp < now + 1000:
            return None, _answer(
                10002, "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{timestamp}],server_timestamp[{now}],recv_window[{recv_window}]",
                now_ms=now)
        payload = signing.string_to_sign(timestamp, api_key, recv_window, query)
        if not _signature_ok(account, payload, self.headers.get("X-BAPI-SIGN", "")):
            return None, _answer(10004, f"error sign! origin_string[{payload}]", now_ms=now)
        return account, None

    def _inject(self, fault: str, account: SimAccount | None) -> bool:
        """Answer as the fault says; False when the request should then go on normally."""
        kind, _, arg = fault.partition(":")
        now = self.sim.now_ms()
        if kind == "slow":
            time.sleep(self.sim.slow_seconds)
            return False
        if kind == "hang":
            time.sleep(self.sim.hang_seconds)
            self.close_connection = True
        elif kind == "http":
            self._raw(int(arg), HTML_ERROR, "text/html")
        elif kind == "ip_ban":
            self._raw(403, HTML_BAN, "text/html")
        elif kind == "not_found":
            self._raw(404, b"", "text/plain")
        elif kind == "truncated":
            body = json.dumps(_answer(0, "OK", {"list": [self._any_entry(account)]}, now)).encode()
            self._raw(200, body[: len(body) // 2], "application/json")
        elif kind == "result_null":
            self._json({"retCode": 0, "retMsg": "OK", "result": None, "retExtInfo": {}, "time": now})
        elif kind == "list_empty":
            self._json(_answer(0, "OK", {"list": []}, now))
        elif kind == "garbage":
            entry = self._any_entry(account)
            entry["totalEquity"] = "NaN"
            for coin in entry["coin"]:
                coin["equity"], coin["usdValue"] = "abc", "1e999"
            self._json(_answer(0, "OK", {"list": [entry]}, now))
        elif kind in ("rate_limit", "rate_limit_bare"):
            headers = {"X-Bapi-Limit": "50", "X-Bapi-Limit-Status": "0",
                       "X-Bapi-Limit-Reset-Timestamp": str(now + 2000)}
            self._json(_answer(10006, RET_MESSAGES[10006], now_ms=now),
                       headers if kind == "rate_limit" else None)
        elif kind == "ret":
            self._json(_answer(int(arg), RET_MESSAGES.get(int(arg), "error"), now_ms=now))
        elif kind == "reset":
            self._reset_mid_body()
        else:
            raise ValueError(f"unknown fault {fault!r}")
        return True

    def _any_entry(self, account: SimAccount | None) -> dict:
        if account is None or not account.wallets:
            return {"accountType": "UNIFIED", "coin": []}
        account_type = next(iter(account.wallets))
        return account.entry(account_type, self.sim.elapsed(), None)

    def _reset_mid_body(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b'{"retCode":0,"retMsg":"OK","result":{"list":[{"totalEq')
        self.wfile.flush()
        # SO_LINGER 0: close with a TCP reset, not a clean FIN
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _json(self, body: dict, headers: dict[str, str] | None = None) -> None:
        self.sim.ret_codes[body["retCode"]] += 1
        self._raw(200, json.dumps(body).encode(), "application/json", headers)

    def _raw(self, status: int, body: bytes, content_type: str,
             headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up first (a timeout, on purpose)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass


def _signature_ok(account: SimAccount, payload: str, signature: str) -> bool:
    if account.rsa_public_pem:
        return signing.rsa_verify(account.rsa_public_pem, payload, signature)
    expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


# ---- balances that move: the demo's accounts -------------------------------------------------

@dataclass(frozen=True)
class Holding:
    coin: str
    quantity: float
    price: float
    borrow: float = 0.0
    swing: float = 0.03  # relative price swing over `period` seconds

    period: float = 600.0

    def price_at(self, t: float) -> float:
        phase = sum(map(ord, self.coin))
        return self.price * (1 + self.swing * math.sin(2 * math.pi * t / self.period + phase))


def _num(value: float) -> str:
    return f"{value:.8f}"


def _unified_coin(h: Holding, t: float, upnl: float) -> dict[str, Any]:
    price = h.price_at(t)
    wallet = h.quantity - h.borrow
    equity = wallet + upnl
    interest = h.borrow * 0.0001 * (1 + t / 3600)
    return {
        "coin": h.coin, "equity": _num(equity), "usdValue": _num(equity * price),
        "walletBalance": _num(wallet), "free": "", "locked": "0",
        "spotHedgingQty": "0", "borrowAmount": _num(h.borrow), "spotBorrow": _num(h.borrow),
        "availableToWithdraw": "", "accruedInterest": _num(interest),
        "totalOrderIM": "0", "totalPositionIM": _num(abs(upnl) * 2), "totalPositionMM": "0",
        "unrealisedPnl": _num(upnl), "cumRealisedPnl": _num(12.5 + t / 1000),
        "bonus": "0", "marginCollateral": True, "collateralSwitch": h.coin != "SOL",
        "availableToBorrow": "", "colRes": "1",
    }


def unified_wallet(holdings: list[Holding], mm_rate: Callable[[float], float]) -> WalletFn:
    def wallet(t: float) -> dict[str, Any]:
        upnl = 150 * math.sin(t / 90)
        coins = [_unified_coin(h, t, upnl if h.coin == "USDT" else 0.0) for h in holdings]
        equity = sum(float(c["usdValue"]) for c in coins)
        wallet_usd = equity - upnl
        mm = mm_rate(t)
        im = min(1.0, mm * 1.15)
        return {
            "accountType": "UNIFIED", "totalEquity": _num(equity),
            "totalWalletBalance": _num(wallet_usd), "totalMarginBalance": _num(equity),
            "totalAvailableBalance": _num(max(equity * (1 - im), 0.0)),
            "totalPerpUPL": _num(upnl), "totalInitialMargin": _num(equity * im),
            "totalInitialMarginByMp": _num(equity * im * 1.002),
            "totalMaintenanceMargin": _num(equity * mm),
            "totalMaintenanceMarginByMp": _num(equity * mm * 1.002),
            "accountIMRate": f"{im:.4f}", "accountIMRateByMp": f"{min(1.0, im * 1.002):.4f}",
            "accountMMRate": f"{mm:.4f}", "accountMMRateByMp": f"{min(1.0, mm * 1.002):.4f}",
            "accountLTV": "0", "coin": coins,
        }

    return wallet


def classic_wallet(account_type: str, holdings: list[Holding]) -> WalletFn:
    """Older SPOT and CONTRACT wallets: account-wide fields and many coin fields are ""."""

    def wallet(t: float) -> dict[str, Any]:
        coins = []
        for h in holdings:
            quantity = h.quantity * (1 + 0.01 * math.sin(t / 120))
            locked = quantity * 0.1 if account_type == "SPOT" else 0.0
            coins.append({
                "coin": h.coin, "equity": _num(quantity), "usdValue": "",
                "walletBalance": _num(quantity),
                "free": _num(quantity - locked) if account_type == "SPOT" else "",
                "locked": _num(locked) if account_type == "SPOT" else "",
                "spotHedgingQty": "0", "borrowAmount": "", "availableToWithdraw": _num(quantity),
                "accruedInterest": "", "totalOrderIM": "0", "totalPositionIM": "0",
                "totalPositionMM": "", "unrealisedPnl": "0", "cumRealisedPnl": "0", "bonus": "",
                "marginCollateral": False, "collateralSwitch": False, "availableToBorrow": "",
            })
        empty = ("totalEquity", "accountIMRate", "totalMarginBalance", "totalInitialMargin",
                 "totalAvailableBalance", "accountMMRate", "totalPerpUPL", "totalWalletBalance",
                 "accountLTV", "totalMaintenanceMargin")
        return {"accountType": account_type, **{key: "" for key in empty}, "coin": coins}

    return wallet


def calm_rate(t: float) -> float:
    return 0.03 + 0.01 * math.sin(t / 300)


def climbing_rate(t: float) -> float:
    """Starts near 0.55 and wanders up toward 0.9: enough to page someone."""
    return min(0.95, 0.9 - 0.35 * math.exp(-t / 240) + 0.02 * math.sin(t / 37))


@dataclass(frozen=True)
class DemoAccount:
    name: str
    api_key: str
    secret: str
    account_types: tuple[str, ...]


def demo_accounts() -> tuple[list[SimAccount], list[DemoAccount]]:
    """Three accounts with fresh random secrets: what the simulator knows, what the exporter gets."""
    profiles = {
        "demo-unified": {"UNIFIED": unified_wallet([
            Holding("BTC", 0.75, 64000), Holding("ETH", 6.0, 3100, swing=0.05),
            Holding("USDT", 25000, 1.0, swing=0.0), Holding("USDC", 5000, 1.0, swing=0.0),
            Holding("SOL", 0.0, 145, borrow=40.0, swing=0.08)], calm_rate)},
        "demo-classic": {"SPOT": classic_wallet("SPOT", [Holding("BTC", 0.05, 64000),
                                                         Holding("USDT", 1200, 1.0)]),
                         "CONTRACT": classic_wallet("CONTRACT", [Holding("XRP", 350, 0.6),
                                                                 Holding("BTC", 0.01, 64000)])},
        "demo-leveraged": {"UNIFIED": unified_wallet([
            Holding("USDT", 8000, 1.0, swing=0.0), Holding("BTC", 0.02, 64000)], climbing_rate)},
    }
    sim_accounts, exporter_accounts = [], []
    for index, (name, wallets) in enumerate(profiles.items()):
        key, secret = f"DEMOKEY{index:011d}", secrets.token_hex(18)
        sim_accounts.append(SimAccount(api_key=key, secret=secret, wallets=wallets))
        exporter_accounts.append(DemoAccount(name, key, secret, tuple(wallets)))
    return sim_accounts, exporter_accounts
