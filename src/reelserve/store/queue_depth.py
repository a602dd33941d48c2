"""Jobs waiting and running per queue and route, read for /metrics at each scrape.

One statement over the predictions index on (queue, status, created_at): a range of it per queue and status,
whatever the size of the table; its cost grows with the number of jobs in flight, not with history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, select

from reelserve.jobs.status import IN_FLIGHT
from reelserve.store.database import Database
from reelserve.store.tables import Prediction

P = Prediction.__table__.c

_IN_FLIGHT_ANYWHERE = (
    select(P.queue, P.model, P.status, func.count().label("jobs"), func.min(P.created_at).label("oldest"))
    .where(P.status.in_([status.value for status in IN_FLIGHT]))
    .group_by(P.queue, P.model, P.status)
)
_IN_FLIGHT_IN_QUEUES = _IN_FLIGHT_ANYWHERE.where(P.queue.in_(bindparam("queues", expanding=True)))


def in_flight(database: Database, queues: Sequence[str] | None) -> list[Any]:
    """(queue, model, status, jobs, oldest created_at) for the jobs created or processing in `queues` (None: in
    every queue)."""
    if queues is not None and not queues:
        return []
    with database.statement_read() as connection:
        if queues is None:
            return list(connection.execute(_IN_FLIGHT_ANYWHERE).all())
        return list(connection.execute(_IN_FLIGHT_IN_QUEUES, {"queues": list(queues)}).all())
