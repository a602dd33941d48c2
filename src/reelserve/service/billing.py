"""Money: balances, top-ups and the ledger an account can read.

A job's price is taken where the job is admitted, and refunded where a job ends other than completed
(jobs/admission.py, jobs/transitions.py), each in the same transaction as the job's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reelserve.errors import InputError, NotFound
from reelserve.service.keys import KeyInfo
from reelserve.service.money import MORE_THAN_AN_ACCOUNT_HOLDS, micros_to_usd, usd_to_micros
from reelserve.store import accounts as account_store
from reelserve.store.database import Database
from reelserve.store.tables import ApiKey


@dataclass(frozen=True)
class LedgerLine:
    id: int
    kind: str
    amount_usd: float
    balance_after_usd: float
    prediction_id: str | None
    note: str | None
    created_at: datetime


@dataclass(frozen=True)
class LedgerPage:
    items: list[LedgerLine]
    page: int
    page_size: int
    total: int


class BillingService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def balance_usd(self, key: KeyInfo) -> float:
        with self.database.read() as session:
            account = account_store.get(session, key.account_id)
            return micros_to_usd(account.balance_micros if account else 0)

    def top_up(self, key_id: str, amount_usd: str | float) -> float:
        try:
            micros = usd_to_micros(amount_usd)
        except ValueError as exc:
            raise InputError(str(exc), param="amount") from None
        if micros <= 0:
            raise InputError("a top-up must be a positive amount of USD", param="amount")
        with self.database.session() as session:
            key = session.get(ApiKey, key_id)
            if key is None:
                raise NotFound.no_such("key", key_id)
            try:
                balance = account_store.credit(session, key.account_id, micros, "topup", None, "top-up")
            except account_store.BalanceOverflow:
                raise balance_overflow("amount") from None
            return micros_to_usd(balance)

    def ledger(self, key: KeyInfo, page: int, page_size: int) -> LedgerPage:
        with self.database.read() as session:
            rows, total = account_store.entries(session, key.account_id, (page - 1) * page_size, page_size)
            items = [
                LedgerLine(
                    id=row.id,
                    kind=row.kind,
                    amount_usd=micros_to_usd(row.amount_micros),
                    balance_after_usd=micros_to_usd(row.balance_after_micros),
                    prediction_id=row.prediction_id,
                    note=row.note,
                    created_at=row.created_at,
                )
                for row in rows
            ]
        return LedgerPage(items=items, page=page, page_size=page_size, total=total)


def balance_overflow(param: str) -> InputError:
    return InputError(f"this would take the balance to {MORE_THAN_AN_ACCOUNT_HOLDS}", param=param)
