"""The lifecycle as the rest of the server calls it: each transition in a transaction of its own.

Whoever wants to hear that jobs ended in this process (the webhook sender, the change feed) subscribes with
`on_ended`; listeners are called after the transaction commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from reelserve.jobs import transitions
from reelserve.jobs.queue import JobQueue
from reelserve.jobs.status import FailureKind
from reelserve.jobs.transitions import Ended, JobResult
from reelserve.store.database import Database, after_commit
from reelserve.store.tables import utcnow

log = logging.getLogger(__name__)

EndedListener = Callable[[Ended], None]


class Lifecycle:
    def __init__(self, database: Database, queue: JobQueue, lease_seconds: float, max_attempts: int) -> None:
        self.database = database
        self.queue = queue
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self._ended_listeners: list[EndedListener] = []

    def on_ended(self, listener: EndedListener) -> None:
        self._ended_listeners.append(listener)

    def start(self, prediction_id: str, worker_id: str) -> Any | None:
        now = utcnow()
        with self.database.write() as connection:
            return transitions.start(connection, prediction_id, worker_id, now + self.lease, now)

    def finish(self, prediction_id: str, worker_id: str, result: JobResult) -> Ended | None:
        with self.database.write() as connection:
            return self._told(connection, transitions.finish(connection, prediction_id, worker_id, result, utcnow()))

    def fail(
        self, prediction_id: str, worker_id: str, error: str, inference_ms: int, kind: FailureKind
    ) -> Ended | None:
        with self.database.write() as connection:
            ended = transitions.fail(connection, prediction_id, worker_id, error, inference_ms, kind, utcnow())
            return self._told(connection, ended)

    def stopped_for_cancel(self, prediction_id: str, worker_id: str) -> Ended | None:
        with self.database.write() as connection:
            ended = transitions.stopped_for_cancel(connection, prediction_id, worker_id, utcnow())
            return self._told(connection, ended)

    def expire(self, prediction_id: str, worker_id: str) -> Ended | None:
        with self.database.write() as connection:
            return self._told(connection, transitions.expire(connection, prediction_id, worker_id, utcnow()))

    def requeue(self, prediction_id: str, worker_id: str) -> Ended | bool:
        """A job its worker stopped for a shutdown: back to the queue, the attempt not counted."""
        with self.database.write() as connection:
            outcome = transitions.requeue(
                connection, self.queue, prediction_id, worker_id, count_attempt=False, now=utcnow()
            )
            if isinstance(outcome, Ended):
                self._told(connection, outcome)
            return outcome

    def set_progress(self, prediction_id: str, worker_id: str, percent: int) -> None:
        with self.database.write() as connection:
            transitions.set_progress(connection, prediction_id, worker_id, percent)

    def cancel(self, prediction_id: str, key_id: str) -> Any:
        with self.database.write() as connection:
            row, ended = transitions.cancel(connection, self.queue, prediction_id, key_id, utcnow())
            self._told(connection, ended)
            return row

    def delete(self, prediction_ids: Sequence[str], key_id: str) -> list[Any]:
        """The deleted rows; their files are the caller's to remove."""
        now = utcnow()
        with self.database.write() as connection:
            rows, cancelled = transitions.delete(connection, self.queue, prediction_ids, key_id, now)
            for ended in cancelled:
                self._told(connection, ended)
            return rows

    def recover_lost(self) -> dict[str, list[str]]:
        """Requeues or gives up the jobs whose worker is gone. Which workers are gone is the queue backend's
        to say (`JobQueue.lost`); what becomes of their jobs is decided here."""
        with self.database.statement_read() as connection:
            if not self.queue.lost(connection):
                return transitions.Recovery().by_outcome()
        with self.database.write() as connection:
            lost = self.queue.lost(connection)
            recovery = transitions.recover_lost(connection, self.queue, lost, utcnow(), self.max_attempts)
            for ended in recovery.ended:
                self._told(connection, ended)
            return recovery.by_outcome()

    def expire_overdue(self, grace_seconds: float) -> list[str]:
        with self.database.statement_read() as connection:
            if not transitions.any_overdue(connection, utcnow(), timedelta(seconds=grace_seconds)):
                return []
        with self.database.write() as connection:
            expired = transitions.expire_overdue(connection, utcnow(), timedelta(seconds=grace_seconds))
            for ended in expired:
                self._told(connection, ended)
            return [ended.prediction_id for ended in expired]

    def expire_outputs(self, retention_seconds: float, limit: int = 500) -> list[Any]:
        now = utcnow()
        with self.database.write() as connection:
            return transitions.expire_outputs(connection, now - timedelta(seconds=retention_seconds), now, limit)

    def _told(self, connection: Any, ended: Ended | None) -> Ended | None:
        if ended is not None and self._ended_listeners:
            after_commit(connection, lambda: self._tell(ended))
        return ended

    def _tell(self, ended: Ended) -> None:
        for listener in self._ended_listeners:
            try:
                listener(ended)
            except Exception:
                log.exception("a listener failed on the end of prediction %s", ended.prediction_id)

