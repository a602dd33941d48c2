"""Queries on accounts and the ledger. Every balance change writes a ledger entry in the same transaction."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from reelserve.store.tables import IN_FLIGHT_STATUSES, Account, ApiKey, LedgerEntry, Prediction, utcnow

# The money and admission statements run in ORM sessions and in the Core intake transaction alike.
Executor = Session | Connection

# Built once: constructing a statement costs SQLAlchemy more than running it, and these run per submit.
_FREE_SLOT = update(ApiKey).where(ApiKey.id == bindparam("key_id")).values(in_flight=ApiKey.in_flight - 1)
_IN_FLIGHT = select(ApiKey.in_flight).where(ApiKey.id == bindparam("key_id"))
_COUNTED_IN_FLIGHT = select(func.count()).where(
    Prediction.key_id == bindparam("key_id"), Prediction.status.in_(IN_FLIGHT_STATUSES)
)
_CREDIT = (
    update(Account)
    .where(Account.id == bindparam("account_id"))
    .values(balance_micros=Account.balance_micros + bindparam("amount"))
    .returning(Account.balance_micros)
)
_NEW_ENTRY = insert(LedgerEntry)


def add(session: Session, account: Account) -> None:
    session.add(account)
    session.flush()


def get(session: Session, account_id: str) -> Account | None:
    return session.get(Account, account_id)


# A key's jobs in flight (waiting or running) are counted on its row: one job more where a job is
# accepted (`store.intake`), one fewer in the transaction that ends it (`predictions.finish`,
# `release_abandoned`).


def free_in_flight_slot(executor: Executor, key_id: str) -> None:
    executor.execute(_FREE_SLOT, {"key_id": key_id})


def in_flight(executor: Executor, key_id: str) -> int:
    return executor.execute(_IN_FLIGHT, {"key_id": key_id}).scalar_one_or_none() or 0


def counted_in_flight(executor: Executor, key_id: str) -> int:
    """The key's waiting and running jobs counted row by row: what `in_flight` must always equal."""
    return executor.execute(_COUNTED_IN_FLIGHT, {"key_id": key_id}).scalar_one()


def credit(
    session: Executor, account_id: str, amount_micros: int, kind: str, prediction_id: str | None, note: str | None
) -> int:
    balance = session.execute(_CREDIT, {"account_id": account_id, "amount": amount_micros}).scalar_one()
    _record(session, account_id, kind, amount_micros, balance, prediction_id, note)
    return balance


def has_entry(session: Session, prediction_id: str, kind: str) -> bool:
    return session.scalar(
        select(func.count()).where(LedgerEntry.prediction_id == prediction_id, LedgerEntry.kind == kind)
    ) > 0


def entries(session: Session, account_id: str, offset: int, limit: int) -> tuple[list[LedgerEntry], int]:
    total = session.scalar(select(func.count()).where(LedgerEntry.account_id == account_id)) or 0
    rows = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total


def ledger_sum(session: Session, account_id: str) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0)).where(LedgerEntry.account_id == account_id)
    ) or 0


def usage(session: Session, key_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Prediction.status, func.count()).where(Prediction.key_id == key_id).group_by(Prediction.status)
    ).all()
    return {status: count for status, count in rows}


def _record(
    session: Executor, account_id: str, kind: str, amount_micros: int, balance_after: int,
    prediction_id: str | None, note: str | None,
) -> None:
    session.execute(
        _NEW_ENTRY,
        {
            "account_id": account_id, "kind": kind, "amount_micros": amount_micros,
            "balance_after_micros": balance_after, "prediction_id": prediction_id, "note": note,
            "created_at": utcnow(),
        },
    )


def refund_once(session: Session, prediction: Prediction, reason: str) -> None:
    """Gives back what a job cost, at most once however often it is called."""
    if prediction.price_micros <= 0 or has_entry(session, prediction.id, "refund"):
        return
    credit(session, prediction.account_id, prediction.price_micros, "refund", prediction.id, reason[:200])
