"""Read-only queries behind the admin page: the ledger in time buckets, recent failures, queue depths, balances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from reelserve.store.tables import Account, ApiKey, LedgerEntry, Prediction

_SQLITE_BUCKET_FORMATS = {"hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}


@dataclass(frozen=True)
class LedgerBucket:
    start: datetime
    kind: str
    amount_micros: int
    entries: int


def _bucket_start(session: Session, bucket: str) -> ColumnElement[object]:
    if session.get_bind().dialect.name == "sqlite":
        # SQLite keeps these columns as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC.
        return func.strftime(_SQLITE_BUCKET_FORMATS[bucket], LedgerEntry.created_at)
    return func.date_trunc(bucket, func.timezone("UTC", LedgerEntry.created_at))


def _as_utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def ledger_buckets(
    session: Session, account_id: str | None, bucket: str, since: datetime, until: datetime
) -> list[LedgerBucket]:
    """The ledger's entries from `since` (included) to `until` (excluded), summed per bucket and kind."""
    start = _bucket_start(session, bucket).label("start")
    statement = (
        select(start, LedgerEntry.kind, func.sum(LedgerEntry.amount_micros), func.count())
        .where(LedgerEntry.created_at >= since, LedgerEntry.created_at < until)
        .group_by(start, LedgerEntry.kind)
        .order_by(start)
    )
    if account_id is not None:
        statement = statement.where(LedgerEntry.account_id == account_id)
    return [
        LedgerBucket(start=_as_utc(row[0]), kind=row[1], amount_micros=int(row[2] or 0), entries=row[3])
        for row in session.execute(statement).all()
    ]


def balance_before(session: Session, account_id: str | None, moment: datetime) -> int:
    """The balance (of one account, or of all together) just before `moment`: the sum of the ledger until then."""
    statement = select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0)).where(LedgerEntry.created_at < moment)
    if account_id is not None:
        statement = statement.where(LedgerEntry.account_id == account_id)
    return int(session.scalar(statement) or 0)


def recent_failures(session: Session, statuses: list[str], limit: int) -> list[tuple[Prediction, str | None]]:
    """Predictions that ended in `statuses`, the most recently ended first, with the name of the key that made them."""
    statement = (
        select(Prediction, ApiKey.name)
        .join(ApiKey, ApiKey.id == Prediction.key_id, isouter=True)
        .where(Prediction.status.in_(statuses))
        .order_by(Prediction.completed_at.desc(), Prediction.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.execute(statement).all()]


def balances_by_key(session: Session) -> dict[str, int]:
    """Each key's account balance in micro-dollars."""
    statement = select(ApiKey.id, Account.balance_micros).join(Account, Account.id == ApiKey.account_id)
    return {key_id: balance for key_id, balance in session.execute(statement).all()}
