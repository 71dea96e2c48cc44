"""The simulated Bybit V5 over real HTTP: routing, signatures, the recv_window rule, key expiry
and IP binding, permissions and the per-UID, per-endpoint rate limit, checked as Bybit does."""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from exporter.bybit import signing
from exporter.simulator import endpoints, flows
from exporter.simulator.accounts import SimAccount
from exporter.simulator.endpoints import DENIED, ApiError, Call, NotOffered
from exporter.simulator.market import spot_tickers

UID_LIMIT_PER_SECOND = 50  # wallet-balance's
WALLET_PATH = "/v5/account/wallet-balance"
Body = dict[str, Any]


@dataclass(frozen=True)
class Route:
    limit: int  # per UID, per rolling `window`
    needs: tuple[str, ...]  # permission groups, any one of which will do; (): any key
    answer: Callable[[Call], endpoints.Result]
    window: float = 1.0  # seconds; 60.0 for the limits Bybit gives per minute


ROUTES = {
    WALLET_PATH: Route(UID_LIMIT_PER_SECOND, (), endpoints.wallet_balance),
    "/v5/account/info": Route(50, (), endpoints.account_info),
    "/v5/position/list": Route(50, ("ContractTrade", "Derivatives"), endpoints.position_list),
    "/v5/order/realtime": Route(50, ("ContractTrade", "Spot", "Derivatives"),
                                endpoints.open_orders),
    "/v5/account/collateral-info": Route(50, (), endpoints.collateral_info),
    "/v5/asset/asset-overview": Route(50, ("Wallet",), endpoints.asset_overview),
    "/v5/asset/transfer/query-account-coins-balance": Route(5, ("Wallet",),
                                                            endpoints.funding_balance),
    "/v5/user/query-api": Route(10, (), endpoints.api_key_info),
    "/v5/asset/total-members-assets": Route(50, ("Wallet",), endpoints.members_assets),
    "/v5/account/transaction-log": Route(25, (), flows.transaction_log),
    "/v5/asset/deposit/query-record": Route(100, ("Wallet",), flows.deposits, 60.0),
    "/v5/asset/deposit/query-internal-record": Route(100, ("Wallet",), flows.internal_deposits,
                                                     60.0),
    "/v5/asset/withdraw/query-record": Route(300, ("Wallet",), flows.withdrawals, 60.0),
}


def answer(code: int, message: str, result: Any = None, now_ms: int = 0) -> Body:
    return {"retCode": code, "retMsg": message, "result": result if result is not None else {},
            "retExtInfo": {}, "time": now_ms}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # hundreds of accounts connect at once (socketserver's default: 5)


class SimHandler(BaseHTTPRequestHandler):
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
            self.send_json(answer(0, "OK", {"timeSecond": str(now // 1000),
                                            "timeNano": str(now * 1_000_000)}, now))
        elif path == "/v5/market/tickers":
            self._tickers(dict(parse_qsl(query)))
        elif path in ROUTES:
            self._private(path, query)
        else:
            self.send_raw(404, b"", "text/plain")

    def intercept(self, path: str, account: SimAccount | None) -> bool:
        """Called before every private request is checked: True when it was answered here.
        Nothing here; the tests' fault injection overrides it."""
        return False

    def _tickers(self, params: dict[str, str]) -> None:
        now = self.sim.now_ms()
        if params.get("category") != "spot":
            self.send_json(answer(10001, "params error: the simulator lists category=spot only",
                                  now_ms=now))
        else:
            self.send_json(answer(0, "OK", spot_tickers(self.sim.elapsed()), now))

    def _private(self, path: str, query: str) -> None:
        self.sim.request_times.append(time.monotonic())
        account = self.sim.accounts.get(self.headers.get("X-BAPI-API-KEY", ""))
        if account is not None:
            if path == WALLET_PATH:
                account.requests += 1
            if account.latency:
                time.sleep(account.latency)
        if self.intercept(path, account):
            return
        account, error = self._authenticate(query)
        if account is None:
            self.send_json(error)
            return
        account.calls.append((path, query))
        if path == WALLET_PATH:
            account.queries.append(query)
        self._checked(path, account, query)

    def _checked(self, path: str, account: SimAccount, query: str) -> None:
        """Rate limit, then permission, then the endpoint's own answer."""
        route, now = ROUTES[path], self.sim.now_ms()
        remaining, reset_ms = self.sim.limit_status(account.uid, path, route.limit, route.window)
        headers = {"X-Bapi-Limit": str(route.limit), "X-Bapi-Limit-Status": str(max(remaining, 0)),
                   "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)}
        if remaining < 0:
            self.send_json(answer(10006, "Too many visits!", now_ms=now), headers)
        elif not account.key.allows(route.needs):
            self.send_json(answer(10005, DENIED, now_ms=now), headers)
        else:
            self._answer(route, Call(account, dict(parse_qsl(query)), self.sim.elapsed(), now),
                         headers)

    def _answer(self, route: Route, call: Call, headers: dict[str, str]) -> None:
        try:
            result = route.answer(call)
        except ApiError as exc:
            self.send_json(answer(exc.code, exc.message, now_ms=call.now_ms), headers)
        except NotOffered:
            self.send_raw(404, b"", "text/plain")
        else:
            self.send_json(answer(0, "OK", result, call.now_ms), headers)

    def _authenticate(self, query: str) -> tuple[SimAccount | None, Body]:
        now = self.sim.now_ms()
        api_key = self.headers.get("X-BAPI-API-KEY", "")
        account = self.sim.accounts.get(api_key)
        if account is None or account.revoked:
            return None, answer(10003, "API key is invalid.", now_ms=now)
        try:
            timestamp = int(self.headers.get("X-BAPI-TIMESTAMP", ""))
            recv_window = int(self.headers.get("X-BAPI-RECV-WINDOW", "5000"))
        except ValueError:
            return None, answer(10001, "invalid request, please check your timestamp", now_ms=now)
        if not now - recv_window <= timestamp < now + 1000:
            return None, answer(
                10002, "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{timestamp}],server_timestamp[{now}],recv_window[{recv_window}]",
                now_ms=now)
        payload = signing.string_to_sign(timestamp, api_key, recv_window, query)
        if not _signature_ok(account, payload, self.headers.get("X-BAPI-SIGN", "")):
            return None, answer(10004, f"error sign! origin_string[{payload}]", now_ms=now)
        return self._key_usable(account, now)

    def _key_usable(self, account: SimAccount, now: int) -> tuple[SimAccount | None, Body]:
        key = account.key
        if key.expires_at_ms is not None and key.expires_at_ms <= now:
            return None, answer(33004, "Your api key has expired.", now_ms=now)
        if "*" not in key.ips and self.client_address[0] not in key.ips:
            return None, answer(10010, "Unmatched IP, please check your API key's bound IP "
                                       "addresses.", now_ms=now)
        return account, {}

    def send_json(self, body: Body, headers: dict[str, str] | None = None) -> None:
        self.sim.ret_codes[body["retCode"]] += 1
        self.send_raw(200, json.dumps(body).encode(), "application/json", headers)

    def send_raw(self, status: int, body: bytes, content_type: str,
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

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class BybitSimulator:
    handler_class: ClassVar[type[SimHandler]] = SimHandler  # the tests' fault injection swaps it

    def __init__(self, accounts: list[SimAccount], host: str = "127.0.0.1", port: int = 0):
        self.accounts = {a.api_key: a for a in accounts}
        self.clock_offset_ms = 0  # the server's clock minus the real one
        self.time_endpoint_offset_ms = 0  # a /v5/market/time that lies by this much
        self.ret_codes: collections.Counter[int] = collections.Counter()  # every answer's retCode
        self.request_times: collections.deque[float] = collections.deque(maxlen=100_000)
        self.connections: set[socket.socket] = set()
        self.started = time.monotonic()
        self._calls: dict[tuple[str, str], collections.deque[float]] = (
            collections.defaultdict(collections.deque))
        self._lock = threading.Lock()
        handler = type("BoundHandler", (self.handler_class,), {"sim": self})
        self.server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> BybitSimulator:
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

    def limit_status(self, uid: str, path: str, limit: int,
                     window: float = 1.0) -> tuple[int, int]:
        """Record a call in the UID's rolling window for `path`: (calls left, reset in ms)."""
        with self._lock:
            calls = self._calls[(uid, path)]
            now = time.monotonic()
            while calls and now - calls[0] >= window:
                calls.popleft()
            calls.append(now)
            return limit - len(calls), self.now_ms() + int((window - (now - calls[0])) * 1000)


def _signature_ok(account: SimAccount, payload: str, signature: str) -> bool:
    if account.rsa_public_pem:
        return signing.rsa_verify(account.rsa_public_pem, payload, signature)
    secret = (account.secret or "").encode()
    expected = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)
