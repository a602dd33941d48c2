"""Workers reporting themselves (host, routes and queues, jobs running, last heartbeat), and the list of them that
`GET /admin/workers` shows."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from reelserve.store import workers as worker_store
from reelserve.store.database import Database
from reelserve.store.tables import utcnow

log = logging.getLogger(__name__)

ALL_QUEUES = "*"
"""What a worker that serves every queue (the embedded default's) reports as its queues."""
SILENT_HEARTBEATS = 3
"""A worker that missed this many heartbeats is shown as not alive."""
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class WorkerView:
    id: str
    host: str
    pid: int
    routes: list[str]
    queues: list[str]
    concurrency: int
    running: list[str]
    started_at: datetime
    last_heartbeat_at: datetime
    alive: bool


class WorkerDirectory:
    def __init__(self, database: Database, heartbeat_seconds: float) -> None:
        self.database = database
        self.heartbeat = timedelta(seconds=heartbeat_seconds)
        self._served: tuple[float, frozenset[str]] | None = None
        self._lock = threading.Lock()

    def serves(self, queue: str) -> bool:
        """Whether a live worker (of any process, this one's included) serves the queue; the list read at most
        once a heartbeat (service/engine_choice.py asks on every submit to a route of several engines)."""
        now = time.monotonic()
        with self._lock:
            known = self._served
        if known is None or known[0] < now:
            known = (now + self.heartbeat.total_seconds(), self.live_queues())
            with self._lock:
                self._served = known
        return queue in known[1] or ALL_QUEUES in known[1]

    def live_queues(self) -> frozenset[str]:
        """The queues live workers serve, as they report them (ALL_QUEUES for a worker that serves every queue)."""
        return frozenset(queue for worker in self.list() if worker.alive for queue in worker.queues)

    def list(self) -> list[WorkerView]:
        silent_since = utcnow() - SILENT_HEARTBEATS * self.heartbeat
        with self.database.statement_read() as connection:
            rows = worker_store.listing(connection)
        return [
            WorkerView(
                id=row.id, host=row.host, pid=row.pid, routes=list(row.routes), queues=list(row.queues),
                concurrency=row.concurrency, running=list(row.running), started_at=row.started_at,
                last_heartbeat_at=row.last_heartbeat_at, alive=row.last_heartbeat_at >= silent_since,
            )
            for row in rows
        ]

    def forget_silent(self) -> int:
        with self.database.write() as connection:
            return worker_store.forget_silent(connection, utcnow() - FORGET_AFTER)


class WorkerReport:
    """A thread that writes this worker's row every `every_seconds`, and removes it when the worker stops."""

    def __init__(
        self, database: Database, worker_id: str, routes: list[str], queues: list[str], concurrency: int,
        running: Callable[[], list[str]], every_seconds: float,
    ) -> None:
        self.database = database
        self.worker_id = worker_id
        self.running = running
        self.every_seconds = every_seconds
        now = utcnow()
        self._row = {
            "id": worker_id, "host": socket.gethostname(), "pid": os.getpid(), "routes": routes, "queues": queues,
            "concurrency": concurrency, "running": [], "started_at": now, "last_heartbeat_at": now,
        }
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reelserve-worker-report", daemon=True)

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def beat(self) -> None:
        row = {**self._row, "running": sorted(self.running()), "last_heartbeat_at": utcnow()}
        with self.database.write() as connection:
            worker_store.report(connection, row)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(10)
        try:
            with self.database.write() as connection:
                worker_store.remove(connection, self.worker_id)
        except Exception:
            log.exception("could not remove worker %s from the workers table", self.worker_id)

    def _loop(self) -> None:
        while not self._stopping.wait(self.every_seconds):
            try:
                self.beat()
            except Exception:
                log.exception("worker %s could not report itself; trying again", self.worker_id)
