"""The in-process worker pool: threads that claim jobs, keep their leases alive, and recover
jobs abandoned by a crash or a restart."""

from __future__ import annotations

import logging
import os
import secrets
import threading

from reelserve.engines.base import JobInterrupted
from reelserve.queue.local import DatabaseQueue
from reelserve.store import predictions as prediction_store
from reelserve.worker.runner import JobRunner

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, size: int, queue: DatabaseQueue, runner: JobRunner, poll_seconds: float) -> None:
        self.size = size
        self.queue = queue
        self.runner = runner
        self.poll_seconds = poll_seconds
        self.instance = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, str] = {}
        self._running_lock = threading.Lock()

    def start(self) -> None:
        self.queue.release_abandoned()
        for number in range(self.size):
            thread = threading.Thread(
                target=self._work, args=(f"{self.instance}-{number}",), name=f"reelserve-worker-{number}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        keeper = threading.Thread(target=self._keep_leases, name="reelserve-leases", daemon=True)
        keeper.start()
        self._threads.append(keeper)

    def stop(self, timeout: float = 30.0) -> None:
        """Running jobs are interrupted and go back to the queue for the next start."""
        self._stopping.set()
        self.queue.wake_all()
        for thread in self._threads:
            thread.join(timeout)

    def _work(self, worker_id: str) -> None:
        while not self._stopping.is_set():
            try:
                prediction = self.queue.claim(worker_id)
            except Exception:
                log.exception("worker %s could not claim a job", worker_id)
                prediction = None
            if prediction is None:
                self.queue.wait_for_work(self.poll_seconds)
                continue
            with self._running_lock:
                self._running[prediction.id] = worker_id
            try:
                self.runner.run(prediction, worker_id, self._stopping.is_set)
            except JobInterrupted:
                self._requeue(prediction.id, worker_id)
            except Exception:
                log.exception("worker %s crashed on prediction %s", worker_id, prediction.id)
            finally:
                with self._running_lock:
                    self._running.pop(prediction.id, None)

    def _requeue(self, prediction_id: str, worker_id: str) -> None:
        with self.queue.database.session() as session:
            prediction = prediction_store.get(session, prediction_id)
            if prediction is not None and prediction.worker_id == worker_id and prediction.status == "processing":
                prediction.status = "created"
                prediction.worker_id = None
                prediction.lease_expires_at = None
                prediction.attempts = max(0, prediction.attempts - 1)
                prediction.progress = 0

    def _keep_leases(self) -> None:
        interval = max(0.2, self.queue.lease.total_seconds() / 3)
        while not self._stopping.wait(interval):
            with self._running_lock:
                by_worker: dict[str, list[str]] = {}
                for prediction_id, worker_id in self._running.items():
                    by_worker.setdefault(worker_id, []).append(prediction_id)
            try:
                for worker_id, prediction_ids in by_worker.items():
                    self.queue.renew(worker_id, prediction_ids)
                released = self.queue.release_abandoned()
                if released["requeued"]:
                    self.queue.enqueue(released["requeued"][0])
                    self.queue.wake_all()
            except Exception:
                log.exception("lease keeping failed; retrying")
