"""Test-only fault injection for the simulated Bybit: a server whose handler misbehaves on
purpose, per account (FaultyAccount.fault) or for every account (FaultySimulator.fault).
A fault hits every private endpoint (or only `FaultySimulator.fault_paths`, when set); the
bodies of "truncated" and "garbage" are wallet-balance's."""

from __future__ import annotations

import json
import socket
import struct
import time
from dataclasses import dataclass, fields
from typing import Any

from exporter.simulator import BybitSimulator, SimAccount, SimHandler
from exporter.simulator.server import answer

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
class FaultyAccount(SimAccount):
    fault: str | None = None  # one of FAULTS


def faulty(account: SimAccount, fault: str | None = None) -> FaultyAccount:
    """The same account, able to carry a fault."""
    copied = FaultyAccount(**{f.name: getattr(account, f.name) for f in fields(SimAccount)})
    copied.fault = fault
    return copied


class FaultyHandler(SimHandler):
    sim: FaultySimulator

    def intercept(self, path: str, account: SimAccount | None) -> bool:
        fault = (account.fault if isinstance(account, FaultyAccount) else None) or self.sim.fault
        if not fault or (self.sim.fault_paths is not None and path not in self.sim.fault_paths):
            return False
        return self._inject(fault, account)

    def _inject(self, fault: str, account: SimAccount | None) -> bool:
        """Answer as the fault says; False when the request should then go on normally."""
        kind, _, arg = fault.partition(":")
        if kind == "slow":
            time.sleep(self.sim.slow_seconds)
            return False
        if kind == "hang":
            time.sleep(self.sim.hang_seconds)
            self.close_connection = True
        elif kind in ("http", "ip_ban", "not_found"):
            self._http_error(kind, arg)
        elif kind in ("truncated", "result_null", "list_empty", "garbage"):
            self._bad_body(kind, account)
        elif kind in ("rate_limit", "rate_limit_bare"):
            self._rate_limited(with_headers=kind == "rate_limit")
        elif kind == "ret":
            self.send_json(answer(int(arg), RET_MESSAGES.get(int(arg), "error"),
                                  now_ms=self.sim.now_ms()))
        elif kind == "reset":
            self._reset_mid_body()
        else:
            raise ValueError(f"unknown fault {fault!r}")
        return True

    def _http_error(self, kind: str, arg: str) -> None:
        if kind == "http":
            self.send_raw(int(arg), HTML_ERROR, "text/html")
        elif kind == "ip_ban":
            self.send_raw(403, HTML_BAN, "text/html")
        else:
            self.send_raw(404, b"", "text/plain")

    def _bad_body(self, kind: str, account: SimAccount | None) -> None:
        now = self.sim.now_ms()
        if kind == "truncated":
            body = json.dumps(answer(0, "OK", {"list": [self._any_entry(account)]}, now)).encode()
            self.send_raw(200, body[: len(body) // 2], "application/json")
        elif kind == "result_null":
            self.send_json({"retCode": 0, "retMsg": "OK", "result": None, "retExtInfo": {},
                            "time": now})
        elif kind == "list_empty":
            self.send_json(answer(0, "OK", {"list": []}, now))
        else:
            entry = self._any_entry(account)
            entry["totalEquity"] = "NaN"
            for coin in entry["coin"]:
                coin["equity"], coin["usdValue"] = "abc", "1e999"
            self.send_json(answer(0, "OK", {"list": [entry]}, now))

    def _rate_limited(self, with_headers: bool) -> None:
        now = self.sim.now_ms()
        headers = {"X-Bapi-Limit": "50", "X-Bapi-Limit-Status": "0",
                   "X-Bapi-Limit-Reset-Timestamp": str(now + 2000)}
        self.send_json(answer(10006, RET_MESSAGES[10006], now_ms=now),
                       headers if with_headers else None)

    def _any_entry(self, account: SimAccount | None) -> dict[str, Any]:
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


class FaultySimulator(BybitSimulator):
    handler_class = FaultyHandler

    def __init__(self, accounts: list[SimAccount], host: str = "127.0.0.1", port: int = 0):
        super().__init__(accounts, host, port)
        self.fault: str | None = None  # a fault for every account
        self.fault_paths: set[str] | None = None  # None: every private endpoint
        self.hang_seconds = 30.0
        self.slow_seconds = 0.5


HTML_RET_MSG = "<img src=x onerror=alert(1)><b>not bold</b> & <script>alert(2)</script>"


@dataclass
class MessageAccount(FaultyAccount):
    """An account whose every private call is refused with this retCode and retMsg (e.g. HTML,
    to see it shown as text wherever the exporter shows Bybit's message)."""

    ret_code: int = 10001
    ret_msg: str = HTML_RET_MSG


class MessageHandler(FaultyHandler):
    def intercept(self, path: str, account: SimAccount | None) -> bool:
        if isinstance(account, MessageAccount):
            self.send_json(answer(account.ret_code, account.ret_msg, now_ms=self.sim.now_ms()))
            return True
        return super().intercept(path, account)


class MessageSimulator(FaultySimulator):
    """FaultySimulator that also answers for MessageAccounts."""

    handler_class = MessageHandler
