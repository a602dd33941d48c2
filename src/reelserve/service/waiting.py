"""How long a job may wait: its place in the queue times the queue's recent run time, shared by the jobs running
in that queue at once. An estimate, and documented as one; a queue that has not run a job yet counts each job as
ASSUMED_RUN_SECONDS."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

from reelserve.service.views import PredictionView, view_of
from reelserve.store import predictions as prediction_store
from reelserve.store.database import Database
from reelserve.store.tables import utcnow

STATS_TTL_SECONDS = 1.0
ASSUMED_RUN_SECONDS = 60.0


class WaitEstimates:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._stats: dict[str, tuple[float, prediction_store.QueueStats]] = {}
        self._lock = threading.Lock()

    def view(self, row: Any, position: int | None) -> PredictionView:
        """A waiting job's view with its place in the queue and when it may start."""
        if position is None:
            return view_of(row)
        return view_of(row, queue_position=position, estimated_start_at=self.start_at(row.queue, position))

    def start_at(self, queue: str, position: int) -> datetime | None:
        """When the job at `position` (1 = next) may start; None before the queue has run a job."""
        stats = self._stats_of(queue)
        if stats.mean_run_seconds is None:
            return None
        in_parallel = max(1, stats.running)
        return utcnow() + timedelta(seconds=stats.mean_run_seconds * ((position - 1) // in_parallel + 1))

    def wait_seconds(self, queue: str) -> float:
        """How long a job queued now would wait before it starts (the jobs waiting counted now, the run time
        and the parallelism as recently measured)."""
        stats = self._stats_of(queue)
        mean = stats.mean_run_seconds if stats.mean_run_seconds is not None else ASSUMED_RUN_SECONDS
        return prediction_store.waiting_in(self.database, queue) * mean / max(1, stats.running)

    def _stats_of(self, queue: str) -> prediction_store.QueueStats:
        now = time.monotonic()
        with self._lock:
            known = self._stats.get(queue)
        if known is not None and known[0] > now:
            return known[1]
        stats = prediction_store.queue_stats(self.database, queue)
        with self._lock:
            self._stats[queue] = (now + STATS_TTL_SECONDS, stats)
        return stats
