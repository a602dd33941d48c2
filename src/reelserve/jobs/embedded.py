"""The embedded job queue: a table in the same database, and worker threads in this process.

A job is queued by a row in `embedded_queue` written in the transaction that admits it; a worker takes the row
and starts the job in one transaction, so a job can be neither lost nor taken twice. Workers here are woken at
once when a job is queued in this process, and look for jobs queued elsewhere every `poll_seconds`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from reelserve.jobs import transitions
from reelserve.jobs.queue import JobHandler, LostJob, QueuedJob
from reelserve.jobs.watch import WatchedConsumer
from reelserve.store import driver_statements
from reelserve.store.database import Database, after_commit
from reelserve.store.tables import EmbeddedQueueEntry, utcnow

log = logging.getLogger(__name__)

Q = EmbeddedQueueEntry.__table__.c
_ENQUEUE = insert(EmbeddedQueueEntry)
_CANDIDATES = 8


class EmbeddedQueue:
    name = "embedded"

    def __init__(self, database: Database, lease_seconds: float, poll_seconds: float) -> None:
        self.database = database
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self._queued = threading.Condition()
        self._pending = 0

    def enqueue(self, connection: Connection, jobs: Sequence[QueuedJob]) -> None:
        if not jobs:
            return
        driver_statements.write_many(
            connection, _ENQUEUE,
            [{"prediction_id": job.prediction_id, "queue": job.queue, "priority": job.priority} for job in jobs],
        )
        count = len(jobs)
        after_commit(connection, lambda: self._wake(count))

    def discard(self, connection: Connection, prediction_id: str) -> None:
        connection.execute(delete(EmbeddedQueueEntry).where(Q.prediction_id == prediction_id))

    def consumer(
        self, handler: JobHandler, queues: Sequence[str] | None, concurrency: int, worker_name: str
    ) -> EmbeddedConsumer:
        return EmbeddedConsumer(self, handler, queues, concurrency, worker_name)

    def schedule(self, name: str, every_seconds: float, task: Callable[[], object]) -> bool:
        """No scheduler of its own: each process runs the task in its maintenance."""
        return False

    def lost(self, connection: Connection) -> list[LostJob]:
        return transitions.lease_expired(connection, utcnow())

    def release_lost(self, connection: Connection, jobs: Sequence[LostJob]) -> None:
        """Nothing: a job in the embedded queue left its row when it was taken."""

    def take(self, worker_id: str, queues: Sequence[str] | None) -> Any | None:
        """The next waiting job, started under `worker_id`'s lease, or None."""
        candidates = select(Q.id, Q.prediction_id).order_by(Q.priority.desc(), Q.id).limit(_CANDIDATES)
        if queues is not None:
            candidates = candidates.where(Q.queue.in_(list(queues)))
        if not self.database.is_sqlite:
            candidates = candidates.with_for_update(skip_locked=True)
        with self.database.write() as connection:
            for entry_id, prediction_id in connection.execute(candidates).all():
                taken = connection.execute(delete(EmbeddedQueueEntry).where(Q.id == bindparam("id")), {"id": entry_id})
                if taken.rowcount != 1:
                    continue
                now = utcnow()
                started = transitions.start(connection, prediction_id, worker_id, now + self.lease, now)
                if started is not None:
                    return started
        return None

    def wait_for_work(self, timeout: float) -> None:
        with self._queued:
            if self._pending == 0:
                self._queued.wait(timeout)
            self._pending = max(0, self._pending - 1)

    def wake_all(self) -> None:
        with self._queued:
            self._queued.notify_all()

    def _wake(self, count: int) -> None:
        with self._queued:
            self._pending += count
            self._queued.notify(count)


class EmbeddedConsumer(WatchedConsumer):
    """`concurrency` threads taking jobs from the embedded queue and running each with the handler."""

    def __init__(
        self, queue: EmbeddedQueue, handler: JobHandler, queues: Sequence[str] | None, concurrency: int,
        worker_name: str,
    ) -> None:
        super().__init__(queue.database, queue.lease, handler, queues, concurrency, worker_name)
        self.queue = queue
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.jobs.start()
        for number in range(self.concurrency):
            worker_id = f"{self.worker_name}-{number}"
            thread = threading.Thread(
                target=self._work, args=(worker_id,), name=f"reelserve-worker-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop_running_jobs()
        self.queue.wake_all()
        for thread in self._threads:
            thread.join(timeout)
        self.jobs.close()

    def alive(self) -> bool:
        """Whether its threads are taking jobs (readiness asks)."""
        return bool(self._threads) and not self._stopping.is_set() and all(t.is_alive() for t in self._threads)

    def _work(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            try:
                job = self.queue.take(worker_id, self.queues)
            except Exception:
                log.exception("worker %s could not take a job", worker_id)
                job = None
            if job is None:
                self.queue.wait_for_work(self.queue.poll_seconds)
                continue
            self._run(job, worker_id)

    def _run(self, job: Any, worker_id: str) -> None:
        try:
            self._run_watched(job, worker_id)
        except Exception:
            log.exception("worker %s crashed on prediction %s", worker_id, job.id)

