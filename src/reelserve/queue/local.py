"""The embedded job queue: jobs are rows in the predictions table, claimed under expiring leases.

Workers in this process are woken at once on submit; workers elsewhere find jobs by polling.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from reelserve.store import predictions
from reelserve.store.database import Database
from reelserve.store.tables import Prediction, utcnow


class DatabaseQueue:
    def __init__(self, database: Database, lease_seconds: float, max_attempts: int) -> None:
        self.database = database
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self._wakeup = threading.Condition()
        self._pending_wakeups = 0

    def enqueue(self, prediction_id: str) -> None:
        """The job row is already committed; this only wakes a local worker."""
        with self._wakeup:
            self._pending_wakeups += 1
            self._wakeup.notify()

    def wait_for_work(self, timeout: float) -> None:
        with self._wakeup:
            if self._pending_wakeups == 0:
                self._wakeup.wait(timeout)
            self._pending_wakeups = max(0, self._pending_wakeups - 1)

    def wake_all(self) -> None:
        with self._wakeup:
            self._wakeup.notify_all()

    def claim(self, worker_id: str, models: list[str] | None = None) -> Prediction | None:
        with self.database.session() as session:
            return predictions.claim_next(session, worker_id, utcnow() + self.lease, models)

    def renew(self, worker_id: str, prediction_ids: list[str]) -> None:
        with self.database.session() as session:
            predictions.renew_leases(session, worker_id, prediction_ids, utcnow() + self.lease)

    def release_abandoned(self) -> dict[str, list[str]]:
        with self.database.session() as session:
            return predictions.release_abandoned(session, utcnow(), self.max_attempts)
