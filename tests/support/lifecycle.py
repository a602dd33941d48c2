"""Test helpers for the job lifecycle: a worker that takes a job and then is lost, on either queue backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from procrastinate import SyncPsycopgConnector
from procrastinate.sql import queries
from sqlalchemy import text, update

from reelserve.jobs import transitions
from reelserve.jobs.embedded import EmbeddedQueue
from reelserve.jobs.queue import JobQueue
from reelserve.runtime import Runtime
from reelserve.store.database import Database
from reelserve.store.tables import Prediction, utcnow

_AGE_HEARTBEAT = text(
    "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = ("
    " SELECT worker_id FROM procrastinate_jobs WHERE lock = :prediction AND status = 'doing')"
)


def take(database: Database, queue: JobQueue, worker_id: str) -> Any:
    """The next waiting job, taken the backend's own way by a worker of that name and started (it will never
    finish it)."""
    if isinstance(queue, EmbeddedQueue):
        return queue.take(worker_id, None)
    connector = SyncPsycopgConnector()
    with database.write() as connection:
        raw = connection.connection.driver_connection
        worker = connector.execute_query_one_with_connection(raw, queries["register_worker"])["worker_id"]
        job = connector.execute_query_one_with_connection(raw, queries["fetch_job"], queues=None, worker_id=worker)
        if job["id"] is None:
            return None
        now = utcnow()
        return transitions.start(connection, job["args"]["prediction_id"], worker_id, now + timedelta(hours=1), now)


def lose(database: Database, queue: JobQueue, prediction_id: str) -> None:
    """The worker running the job goes silent, as if killed, and has been silent long enough to be given up:
    its lease has run out (embedded), its heartbeat is an hour old (procrastinate)."""
    with database.write() as connection:
        if isinstance(queue, EmbeddedQueue):
            connection.execute(
                update(Prediction).where(Prediction.id == prediction_id).values(lease_expires_at=utcnow())
            )
        else:
            connection.execute(_AGE_HEARTBEAT, {"prediction": prediction_id})


def start_and_lose(database: Database, queue: JobQueue) -> str | None:
    job = take(database, queue, "a-worker-that-dies")
    if job is None:
        return None
    lose(database, queue, job.id)
    return str(job.id)


def take_job(runtime: Runtime, worker_id: str) -> Any:
    return take(runtime.database, runtime.queue, worker_id)


def lose_worker(runtime: Runtime, prediction_id: str) -> None:
    lose(runtime.database, runtime.queue, prediction_id)
