"""Money: reserving a job's price with the job, balances, and the ledger an account can read.

Refunds of failed jobs happen where a job ends (store.predictions), in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reelserve.errors import InputError, InsufficientBalance, NotFound
from reelserve.service.keys import KeyInfo
from reelserve.service.money import format_usd, micros_to_usd, usd_to_micros
from reelserve.store import accounts as account_store
from reelserve.store.accounts import Executor
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


def reserve(executor: Executor, key: KeyInfo, price_micros: int, prediction_id: str, note: str) -> None:
    """Takes the price from the key's account within the caller's transaction, or raises."""
    if price_micros == 0:
        return
    balance = account_store.debit_if_covered(executor, key.account_id, price_micros, "charge", prediction_id, note)
    if balance is None:
        available = account_store.balance_micros(executor, key.account_id)
        raise InsufficientBalance(
            f"insufficient balance: this request costs {format_usd(price_micros)} "
            f"and the balance is {format_usd(available)}"
        )


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
                raise NotFound(f"no key with id {key_id}")
            return micros_to_usd(account_store.credit(session, key.account_id, micros, "topup", None, "top-up"))

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
