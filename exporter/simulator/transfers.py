"""Deposits and withdrawals of the Funding wallet, as `/v5/asset/deposit/query-record`,
`.../query-internal-record` and `/v5/asset/withdraw/query-record` list them. Not frozen: a test
(or the demo) moves a record on by setting its `status`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEPOSIT_SUCCESS = 3  # 0 unknown, 1 to be confirmed, 2 processing, 4 failed, 7 rollback, 7001x
INTERNAL_SUCCESS = 2  # 1 processing, 3 failed
WITHDRAWAL_SUCCESS = "success"  # also SecurityCheck, Pending, CancelByUser, Reject, Fail, ...


@dataclass
class Deposit:
    """An on-chain deposit; `time_ms` places it in a time window."""
    coin: str
    amount: str
    time_ms: int
    status: int = DEPOSIT_SUCCESS
    deposit_fee: str = ""  # "" or e.g. "0.0001"
    chain: str = "ETH"
    tx_id: str = ""  # "": made from the time
    deposit_type: int = 0  # 50: not credited
    id: str = ""  # "": made from the time

    def row(self) -> dict[str, Any]:
        done = self.status == DEPOSIT_SUCCESS
        return {
            "coin": self.coin, "chain": self.chain, "amount": self.amount,
            "txID": self.tx_id or f"0x{self.time_ms:x}", "status": self.status,
            "toAddress": "0x2b3a0c8f8e6a1f4c5d3e9a7b6c5d4e3f2a1b0c9d", "tag": "",
            "depositFee": self.deposit_fee, "successAt": str(self.time_ms + 60_000) if done else "",
            "confirmations": "65" if done else "3", "txIndex": "1", "blockHash": "",
            "batchReleaseLimit": "-1", "depositType": str(self.deposit_type), "fromAddress": "",
            "taxDepositRecordsId": "0", "taxStatus": 0, "id": self.id or f"d-{self.time_ms}",
        }


@dataclass
class InternalDeposit:
    """A deposit from another Bybit user (Bybit-to-Bybit)."""
    coin: str
    amount: str
    time_ms: int
    status: int = INTERNAL_SUCCESS
    address: str = "friend@example.com"
    id: str = ""

    def row(self) -> dict[str, Any]:
        return {"id": self.id or f"i-{self.time_ms}", "type": 1, "coin": self.coin,
                "amount": self.amount, "status": self.status, "address": self.address,
                "createdTime": str(self.time_ms), "txID": str(self.time_ms // 7),
                "taxDepositRecordsId": "0", "taxStatus": 0}


@dataclass
class Withdrawal:
    """A withdrawal: on-chain, or `off_chain` (to another Bybit user, withdrawType 1)."""
    coin: str
    amount: str
    time_ms: int  # createTime
    status: str = WITHDRAWAL_SUCCESS
    withdraw_fee: str = "0"
    off_chain: bool = False
    chain: str = "ETH"
    withdraw_id: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "withdrawId": self.withdraw_id or f"w-{self.time_ms}",
            "txID": "" if self.off_chain else f"0x{self.time_ms * 3:x}",
            "withdrawType": 1 if self.off_chain else 0, "coin": self.coin,
            "chain": "" if self.off_chain else self.chain, "amount": self.amount,
            "withdrawFee": self.withdraw_fee, "status": self.status,
            "toAddress": "friend@example.com" if self.off_chain else "0x9f8e7d6c5b4a",
            "tag": "", "createTime": str(self.time_ms), "updateTime": str(self.time_ms + 90_000),
            "requestId": "", "fee": "",
        }
