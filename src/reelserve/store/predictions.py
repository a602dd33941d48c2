"""Reads of predictions: one by its owner, a page of an owner's history, a waiting job's place in its queue.
(Writes are the lifecycle's: jobs/.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select

from reelserve.jobs.status import Status
from reelserve.store.database import Database
from reelserve.store.tables import ApiKey, Prediction

P = Prediction.__table__.c
WAITING = Status.CREATED

# A waiting job's place is counted in the same statement: two ranges of the index on (queue, status, priority,
# created_at), since one condition with OR would walk every waiting job of the queue.
_OTHER = Prediction.__table__.alias("other").c
_SAME_QUEUE_WAITING = (_OTHER.queue == P.queue, _OTHER.status == WAITING)
_AHEAD = (
    select(func.count()).where(*_SAME_QUEUE_WAITING, _OTHER.priority > P.priority).scalar_subquery()
    + select(func.count())
    .where(*_SAME_QUEUE_WAITING, _OTHER.priority == P.priority, _OTHER.created_at < P.created_at)
    .scalar_subquery()
)
_OWNED_ROW = select(Prediction.__table__, case((P.status == WAITING, _AHEAD), else_=None).label("ahead")).where(
    P.id == bindparam("prediction_id"), P.key_id == bindparam("key_id"), P.deleted_at.is_(None)
)


_WAITING_IN = select(func.count().label("waiting")).where(P.queue == bindparam("queue"), P.status == WAITING)


def waiting_in(database: Database, queue: str) -> int:
    found = database.read_one(_WAITING_IN, {"queue": queue})
    return found.waiting if found is not None else 0


def owned_row(database: Database, prediction_id: str, key_id: str) -> Any | None:
    """The prediction's columns as attributes, without the ORM, and `ahead`: how many waiting jobs of its queue go
    before it, if it waits (else None). The polling path reads this."""
    return database.read_one(_OWNED_ROW, {"prediction_id": prediction_id, "key_id": key_id})


def rows_by_id(database: Database, prediction_ids: Sequence[str]) -> list[Any]:
    with database.statement_read() as connection:
        return list(connection.execute(select(Prediction.__table__).where(P.id.in_(list(prediction_ids)))).all())


def states_by_id(database: Database, prediction_ids: Sequence[str]) -> list[Any]:
    """What a follower of these predictions watches (id, status, progress, error): no JSON decoded."""
    wanted = select(P.id, P.status, P.progress, P.error).where(P.id.in_(list(prediction_ids)))
    with database.statement_read() as connection:
        return list(connection.execute(wanted).all())


def queue_positions(database: Database, prediction_ids: Sequence[str]) -> dict[str, int]:
    """Each waiting job's place in its queue (1 = next), for these ids; one statement for all of them."""
    ranked = (
        select(
            P.id,
            func.row_number().over(partition_by=P.queue, order_by=(P.priority.desc(), P.created_at)).label("place"),
        )
        .where(P.status == WAITING)
        .subquery()
    )
    with database.statement_read() as connection:
        found = connection.execute(select(ranked.c.id, ranked.c.place).where(ranked.c.id.in_(list(prediction_ids))))
        return {prediction_id: place for prediction_id, place in found}


@dataclass(frozen=True)
class HistoryFilter:
    key_id: str
    model: str | None = None
    status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    oldest_first: bool = False
    after_id: str | None = None
    """A cursor: only the predictions that come after this one (of the same key) in the chosen order."""


COUNTED_UP_TO = 10_000
"""A filtered history's total is counted exactly up to this many predictions: counting costs one index entry each,
and a key with hundreds of thousands would pay for it on every page. (The unfiltered total is kept with the key.)"""


def history_page(database: Database, where: HistoryFilter, offset: int, limit: int) -> tuple[list[Any], int, bool]:
    """A page of the key's predictions, newest first (or oldest first), how many match in all (counted up to
    COUNTED_UP_TO), and whether there are more than that."""
    conditions = [P.key_id == where.key_id, P.deleted_at.is_(None)]
    if where.after_id is not None:
        conditions.append(_after(where.key_id, where.after_id, where.oldest_first))
    if where.model is not None:
        conditions.append(P.model == where.model)
    if where.status is not None:
        conditions.append(P.status == where.status)
    if where.created_after is not None:
        conditions.append(P.created_at >= where.created_after)
    if where.created_before is not None:
        conditions.append(P.created_at < where.created_before)
    order = (P.created_at, P.id) if where.oldest_first else (P.created_at.desc(), P.id.desc())
    page = select(Prediction.__table__).where(*conditions).order_by(*order)
    with database.statement_read() as connection:
        rows = connection.execute(page.offset(offset).limit(limit)).all()
        if len(conditions) == 2:
            # Unfiltered, the total is the count kept with the key (counting a key's million rows takes a
            # quarter second).
            kept = select(ApiKey.predictions_count).where(ApiKey.id == where.key_id)
            return list(rows), connection.execute(kept).scalar_one_or_none() or 0, False
        matching = select(P.id).where(*conditions).limit(COUNTED_UP_TO + 1).subquery()
        total = connection.execute(select(func.count()).select_from(matching)).scalar_one()
    return list(rows), min(total, COUNTED_UP_TO), total > COUNTED_UP_TO


def _after(key_id: str, prediction_id: str, oldest_first: bool) -> Any:
    """Rows past the cursor prediction in (created_at, id) order; none when the cursor is not the key's."""
    anchor = select(P.created_at).where(P.id == prediction_id, P.key_id == key_id).scalar_subquery()
    if oldest_first:
        return or_(P.created_at > anchor, and_(P.created_at == anchor, P.id > prediction_id))
    return or_(P.created_at < anchor, and_(P.created_at == anchor, P.id < prediction_id))


@dataclass(frozen=True)
class QueueStats:
    mean_run_seconds: float | None
    """Over the queue's latest completed jobs; None before the first."""
    running: int


def queue_stats(database: Database, queue: str, sample: int = 20) -> QueueStats:
    """Each a walk of the index on (queue, status, created_at)."""
    recent = (
        select(P.inference_ms)
        .where(P.queue == queue, P.status == Status.COMPLETED, P.inference_ms.is_not(None))
        .order_by(P.created_at.desc())
        .limit(sample)
        .subquery()
    )
    with database.statement_read() as connection:
        mean = connection.execute(select(func.avg(recent.c.inference_ms))).scalar()
        running = connection.execute(
            select(func.count()).where(P.queue == queue, P.status == Status.PROCESSING)
        ).scalar_one()
    mean_seconds = None if mean is None else float(mean) / 1000
    return QueueStats(mean_seconds, running)
