"""The jobs running in this process, watched: their leases renewed, their stop tokens set when a client cancels
them or they pass their deadline.

One thread and one statement per tick for all of this process's running jobs, whatever their number.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reelserve.engines.base import StopReason, StopToken
from reelserve.jobs import transitions
from reelserve.jobs.queue import JobHandler
from reelserve.observe import metrics
from reelserve.store.database import Database
from reelserve.store.tables import utcnow

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
"""How soon a cancel reaches a running job (plus the engine's step)."""


@dataclass
class _Running:
    worker_id: str
    token: StopToken
    deadline: datetime | None


class RunningJobs:
    def __init__(self, database: Database, lease: timedelta, worker_name: str = "") -> None:
        self.database = database
        self.lease = lease
        self.worker_name = worker_name
        """The worker process's name in its metrics (jobs running, heartbeat)."""
        self._jobs: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="reelserve-running-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive():
            self._thread.join(10)
        metrics.worker_gone(self.worker_name)

    def run(self, job: Any, worker_id: str, handler: JobHandler, stopping: threading.Event) -> None:
        """Runs the handler on a started job, watched while it runs. Tracked before `stopping` is read, so that a
        shutdown either finds the job here (stop_all) or is seen before it runs."""
        token = StopToken()
        self._track(job.id, worker_id, token, job.deadline_at)
        if stopping.is_set():
            token.stop(StopReason.SHUTDOWN)
        try:
            handler(job, token)
        finally:
            self._untrack(job.id)

    def _track(self, prediction_id: str, worker_id: str, token: StopToken, deadline: datetime | None) -> None:
        with self._lock:
            new = prediction_id not in self._jobs
            self._jobs[prediction_id] = _Running(worker_id, token, deadline)
        if new:
            metrics.worker_jobs(self.worker_name, 1)

    def _untrack(self, prediction_id: str) -> None:
        with self._lock:
            found = self._jobs.pop(prediction_id, None)
        if found is not None:
            metrics.worker_jobs(self.worker_name, -1)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def stop_all(self, reason: StopReason) -> None:
        with self._lock:
            for running in self._jobs.values():
                running.token.stop(reason)

    def tick(self) -> None:
        with self._lock:
            running = dict(self._jobs)
        if not running:
            return
        now = utcnow()
        for running_job in running.values():
            if running_job.deadline is not None and running_job.deadline <= now:
                running_job.token.stop(StopReason.TIMEOUT)
        with self.database.write() as connection:
            cancelled = transitions.heartbeat(
                connection, {job: entry.worker_id for job, entry in running.items()}, now + self.lease
            )
        for job in cancelled:
            running[job].token.stop(StopReason.CANCEL)

    def _watch(self) -> None:
        interval = min(TICK_SECONDS, self.lease.total_seconds() / 3)
        metrics.worker_jobs(self.worker_name, 0)
        metrics.worker_heartbeat(self.worker_name)
        while not self._closing.wait(interval):
            try:
                self.tick()
            except Exception:
                log.exception("watching running jobs failed; trying again")
            else:
                metrics.worker_heartbeat(self.worker_name)


class WatchedConsumer:
    """What both queue backends' consumers share: the handler they run jobs with, the queues they serve (None: all),
    how many jobs at once, and those jobs watched while they run."""

    def __init__(
        self, database: Database, lease: timedelta, handler: JobHandler, queues: Sequence[str] | None,
        concurrency: int, worker_name: str,
    ) -> None:
        self.handler = handler
        self.queues = list(queues) if queues is not None else None
        self.concurrency = concurrency
        self.worker_name = worker_name
        self.jobs = RunningJobs(database, lease, worker_name)
        self._stopping = threading.Event()

    def running(self) -> list[str]:
        return self.jobs.ids()

    def _run_watched(self, job: Any, worker_id: str) -> None:
        self.jobs.run(job, worker_id, self.handler, self._stopping)

    def _stop_running_jobs(self) -> None:
        """Takes no more jobs; those running go back to the queue at their engine's next step."""
        self._stopping.set()
        self.jobs.stop_all(StopReason.SHUTDOWN)
