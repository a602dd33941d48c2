"""The workers table: each worker process as it last reported itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from reelserve.store.tables import WorkerRow

W = WorkerRow.__table__.c


def report(connection: Connection, row: dict[str, Any]) -> None:
    """Writes the worker's row (its id is unique to one process: an update, or the first insert)."""
    changed = connection.execute(
        update(WorkerRow).where(W.id == row["id"]).values(
            running=row["running"], last_heartbeat_at=row["last_heartbeat_at"]
        )
    )
    if changed.rowcount == 0:
        connection.execute(insert(WorkerRow), row)


def remove(connection: Connection, worker_id: str) -> None:
    connection.execute(delete(WorkerRow).where(W.id == worker_id))


def listing(connection: Connection) -> Sequence[Any]:
    return connection.execute(select(WorkerRow.__table__).order_by(W.host, W.started_at)).all()


def forget_silent(connection: Connection, before: datetime) -> int:
    """Removes the rows of workers silent since before `before` (killed, lost with their machine)."""
    return connection.execute(delete(WorkerRow).where(W.last_heartbeat_at < before)).rowcount
