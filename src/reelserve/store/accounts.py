"""Queries on accounts and the ledger. Every balance change writes a ledger entry in the same transaction."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from reelserve.store.tables import Account, ApiKey, LedgerEntry, Prediction, utcnow

# The money and admission statements run in ORM sessions and in the Core intake transaction alike.
Executor = Session | Connection

# Built once: constructing a statement costs SQLAlchemy more than running it, and these run per submit.
_FREE_SLOT = update(ApiKey).where(ApiKey.id == bindparam("key_id")).values(in_flight=ApiKey.in_flight - 1)
_IN_FLIGHT = select(ApiKey.in_flight).where(ApiKey.id == bindparam("key_id"))
_STANDING = (
    select(ApiKey.in_flight, Account.balance_micros)
    .join(Account, Account.id == ApiKey.account_id)
    .where(ApiKey.id == bindparam("key_id"))
)
_COUNTED_IN_FLIGHT = select(func.count()).where(
    Prediction.key_id == bindparam("key_id"), Prediction.status.in_(bindparam("statuses", expanding=True))
)
# Balances and ledger amounts are 64-bit (BigInteger): SQLite would silently turn a sum past that range into a
# float, PostgreSQL fail.
MAX_BALANCE_MICROS = 2**63 - 1
_CREDIT = (
    update(Account)
    .where(Account.id == bindparam("account_id"), Account.balance_micros <= bindparam("ceiling"))
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
# admitted, one fewer in the transaction that ends it (jobs/admission.py, jobs/transitions.py).


def free_in_flight_slot(executor: Executor, key_id: str) -> None:
    executor.execute(_FREE_SLOT, {"key_id": key_id})


def in_flight(executor: Executor, key_id: str) -> int:
    return executor.execute(_IN_FLIGHT, {"key_id": key_id}).scalar_one_or_none() or 0


def standing(executor: Executor, key_id: str) -> tuple[int, int]:
    """The key's jobs in flight and its account's balance, as they are now (no lock taken)."""
    found = executor.execute(_STANDING, {"key_id": key_id}).one_or_none()
    return (found.in_flight, found.balance_micros) if found is not None else (0, 0)


def counted_in_flight(executor: Executor, key_id: str, statuses: tuple[str, ...]) -> int:
    """The key's jobs in `statuses` (the in-flight ones) counted row by row: what `in_flight` must always equal."""
    return executor.execute(_COUNTED_IN_FLIGHT, {"key_id": key_id, "statuses": list(statuses)}).scalar_one()


class BalanceOverflow(Exception):
    """The credit would take the balance past MAX_BALANCE_MICROS; nothing was written."""


def credit(
    session: Executor, account_id: str, amount_micros: int, kind: str, prediction_id: str | None, note: str | None
) -> int:
    """The new balance; BalanceOverflow, with the balance untouched, where it would pass MAX_BALANCE_MICROS."""
    if amount_micros > MAX_BALANCE_MICROS:
        raise BalanceOverflow(amount_micros)
    ceiling = MAX_BALANCE_MICROS - max(amount_micros, 0)
    balance = session.execute(
        _CREDIT, {"account_id": account_id, "amount": amount_micros, "ceiling": ceiling}
    ).scalar_one_or_none()
    if balance is None:
        if session.execute(select(Account.id).where(Account.id == account_id)).first() is None:
            raise LookupError(f"no account {account_id}")
        raise BalanceOverflow(amount_micros)
    _record(session, account_id, kind, amount_micros, balance, prediction_id, note)
    return balance


def has_entry(executor: Executor, prediction_id: str, kind: str) -> bool:
    return executor.execute(
        select(func.count()).where(LedgerEntry.prediction_id == prediction_id, LedgerEntry.kind == kind)
    ).scalar_one() > 0


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


def refund_once(executor: Executor, prediction_id: str, account_id: str, price_micros: int, reason: str) -> None:
    """Gives back what a job cost, at most once however often it is called."""
    if price_micros <= 0 or has_entry(executor, prediction_id, "refund"):
        return
    credit(executor, account_id, price_micros, "refund", prediction_id, reason[:200])
