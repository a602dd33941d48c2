"""The job queue on PostgreSQL: procrastinate (https://procrastinate.readthedocs.io), psycopg 3.

A job is a procrastinate job of the task `reelserve.run_prediction` in its engine binding's queue, deferred on the
psycopg connection under the admitting transaction (so it exists if and only if that transaction commits), with
the prediction's id as both its `lock` (no two runs of one prediction at once) and its `queueing_lock` (at most
one waiting). procrastinate's workers take jobs (LISTEN/NOTIFY, polling as a fallback), send heartbeats, and run
each job's task, which starts the prediction through the lifecycle and hands it to the handler.

Lost workers: a running prediction is lost when no procrastinate worker with a live heartbeat (younger than
`stalled_seconds`) holds its job; that is the one test (`lost`). The lifecycle then requeues it (a new job, with a
higher priority) or gives it up, in the transaction that also ends the stalled procrastinate job (`release_lost`).
The recovery runs as a procrastinate periodic task in a maintenance queue that every consumer serves, with a
`queueing_lock` (at most one run waits) and no `lock`: a run that a killed worker left `doing` would hold a lock for
good, and the recovery that could release it could never run again. Runs on two machines may overlap; the recovery
locks the rows it changes. Each run, and each consumer as it starts, first ends the maintenance runs whose worker
is gone (`release_stalled_maintenance`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from procrastinate import App, PsycopgConnector, SyncPsycopgConnector
from procrastinate.jobs import Job
from procrastinate.manager import JobManager
from procrastinate.worker import Worker
from sqlalchemy import Connection, bindparam, delete, select, text
from sqlalchemy.engine import make_url

from reelserve.jobs import transitions
from reelserve.jobs.queue import JobHandler, LostJob, QueuedJob
from reelserve.jobs.status import Status
from reelserve.jobs.watch import WatchedConsumer
from reelserve.store.database import Database
from reelserve.store.tables import EmbeddedQueueEntry, utcnow

log = logging.getLogger(__name__)

RUN_TASK = "reelserve.run_prediction"
MAINTENANCE_QUEUE = "reelserve-maintenance"

_DISCARD = text(
    "SELECT procrastinate_cancel_job_v1(id, false, true) FROM procrastinate_jobs "
    "WHERE queueing_lock = :prediction AND status = 'todo'"
)
_LOST = text(
    "SELECT p.id, p.worker_id FROM predictions AS p WHERE p.status = :processing AND NOT EXISTS ("
    " SELECT 1 FROM procrastinate_jobs AS j JOIN procrastinate_workers AS w ON w.id = j.worker_id"
    " WHERE j.lock = p.id AND j.status = 'doing'"
    " AND w.last_heartbeat >= now() - make_interval(secs => :stalled))"
)
_RELEASE_STALLED_MAINTENANCE = text(
    "SELECT procrastinate_finish_job_v1(j.id, 'failed', false) FROM procrastinate_jobs AS j"
    " WHERE j.queue_name = :queue AND j.status = 'doing' AND NOT EXISTS ("
    " SELECT 1 FROM procrastinate_workers AS w WHERE w.id = j.worker_id"
    " AND w.last_heartbeat >= now() - make_interval(secs => :stalled))"
)
_RELEASE = text(
    "SELECT procrastinate_finish_job_v1(id, 'failed', false) FROM procrastinate_jobs "
    "WHERE lock IN :predictions AND status = 'doing'"
).bindparams(bindparam("predictions", expanding=True))


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://...` as psycopg's own connection string (query options such as search_path kept)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def cron_every(seconds: float) -> str:
    """procrastinate's cron with a seconds column: the largest divisor of a minute not above `seconds`."""
    step = max((divisor for divisor in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if divisor <= seconds), default=1)
    return f"* * * * * */{step}"


class ProcrastinateQueue:
    name = "procrastinate"

    def __init__(self, database: Database, stalled_seconds: float, poll_seconds: float) -> None:
        if database.is_sqlite:
            raise ValueError("the procrastinate queue needs PostgreSQL; SQLite uses the embedded queue")
        self.database = database
        self.stalled_seconds = stalled_seconds
        self.heartbeat_seconds = max(0.2, stalled_seconds / 3)
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=stalled_seconds)
        self.conninfo = libpq_url(database.url)
        # Defers and discards run on the caller's connection only: this manager's connector never opens a pool.
        self._jobs = JobManager(SyncPsycopgConnector())
        self.periodic: list[tuple[str, float, Callable[[], object]]] = []

    def enqueue(self, connection: Connection, jobs: Sequence[QueuedJob]) -> None:
        if not jobs:
            return
        deferred = [
            Job(
                queue=job.queue, priority=job.priority, lock=job.prediction_id, queueing_lock=job.prediction_id,
                task_name=RUN_TASK, task_kwargs={"prediction_id": job.prediction_id},
            )
            for job in jobs
        ]
        self._jobs.batch_defer_jobs(deferred, connection=connection.connection.driver_connection)

    def discard(self, connection: Connection, prediction_id: str) -> None:
        connection.execute(_DISCARD, {"prediction": prediction_id})

    def lost(self, connection: Connection) -> list[LostJob]:
        rows = connection.execute(_LOST, {"processing": Status.PROCESSING.value, "stalled": self.stalled_seconds})
        return [LostJob(row.id, row.worker_id) for row in rows]

    def release_lost(self, connection: Connection, jobs: Sequence[LostJob]) -> None:
        if jobs:
            connection.execute(_RELEASE, {"predictions": [job.prediction_id for job in jobs]})

    def schedule(self, name: str, every_seconds: float, task: Callable[[], object]) -> bool:
        """Runs `task` every `every_seconds` (rounded to a divisor of a minute) on one of the consumers; a run on
        another machine may overlap it, so `task` must be safe to run twice at once. Register before consumers
        start."""
        self.periodic.append((name, every_seconds, task))
        return True

    def release_stalled_maintenance(self) -> int:
        """Ends, failed, the periodic runs whose worker is gone (killed mid-run); how many."""
        with self.database.write() as connection:
            ended = connection.execute(
                _RELEASE_STALLED_MAINTENANCE, {"queue": MAINTENANCE_QUEUE, "stalled": self.stalled_seconds}
            )
            return len(ended.all())

    def adopt_embedded(self) -> int:
        """Jobs left waiting in the embedded queue (a database that used it before) move to procrastinate."""
        entries = EmbeddedQueueEntry.__table__.c
        with self.database.write() as connection:
            rows = connection.execute(
                select(entries.prediction_id, entries.queue, entries.priority).order_by(entries.id).with_for_update()
            ).all()
            if rows:
                self.enqueue(connection, [QueuedJob(row.prediction_id, row.queue, row.priority) for row in rows])
                connection.execute(delete(EmbeddedQueueEntry))
        return len(rows)

    def consumer(
        self, handler: JobHandler, queues: Sequence[str] | None, concurrency: int, worker_name: str
    ) -> ProcrastinateConsumer:
        return ProcrastinateConsumer(self, handler, queues, concurrency, worker_name)


class ProcrastinateConsumer(WatchedConsumer):
    """procrastinate workers in a thread of their own (their event loop), running jobs in `concurrency` threads:
    one for the served queues, and one for the maintenance queue where periodic tasks run."""

    def __init__(
        self, queue: ProcrastinateQueue, handler: JobHandler, queues: Sequence[str] | None, concurrency: int,
        worker_name: str,
    ) -> None:
        super().__init__(queue.database, queue.lease, handler, queues, concurrency, worker_name)
        self.queue = queue
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="reelserve-procrastinate", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[Worker] = []
        self._failure: BaseException | None = None

    def start(self) -> None:
        self.jobs.start()
        self._thread.start()
        if not self._started.wait(60) or self._failure is not None:
            raise RuntimeError(f"procrastinate's workers did not start: {self._failure}")

    def stop(self, timeout: float = 30.0) -> None:
        self._stop_running_jobs()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the workers have stopped
                loop.call_soon_threadsafe(self._stop_workers)
        self._thread.join(timeout)
        self.jobs.close()

    def alive(self) -> bool:
        """Whether its workers take jobs: started, not stopping, their thread running."""
        return self._started.is_set() and self._failure is None and not self._stopping.is_set() and (
            self._thread.is_alive()
        )

    def _stop_workers(self) -> None:
        for worker in self._workers:
            worker.stop()

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._failure = exc
            log.exception("procrastinate's workers stopped with an error")
        finally:
            self._started.set()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        # Tasks are synchronous (engines block): each runs in a thread of this pool, one per job at a time.
        loop.set_default_executor(ThreadPoolExecutor(self.concurrency + 2, thread_name_prefix="reelserve-job"))
        app = self._app()
        async with app.open_async():
            common: dict[str, Any] = {
                "install_signal_handlers": False, "listen_notify": True, "delete_jobs": "successful",
                "fetch_job_polling_interval": self.queue.poll_seconds,
                "abort_job_polling_interval": max(1.0, self.queue.heartbeat_seconds),
                "update_heartbeat_interval": self.queue.heartbeat_seconds,
                "stalled_worker_timeout": self.queue.stalled_seconds,
            }
            self._workers = [
                Worker(app, queues=self.queues, name=self.worker_name, concurrency=self.concurrency, **common)
            ]
            if self.queue.periodic:
                await loop.run_in_executor(None, self.queue.release_stalled_maintenance)
                self._workers.append(
                    Worker(app, queues=[MAINTENANCE_QUEUE], name=f"{self.worker_name}-maintenance", concurrency=1,
                           **common)
                )
            self._loop = loop
            runs = [asyncio.create_task(worker.run()) for worker in self._workers]
            while not all(worker.worker_id is not None for worker in self._workers):
                if any(run.done() for run in runs):
                    break
                await asyncio.sleep(0.01)
            self._started.set()
            if self._stopping.is_set():
                self._stop_workers()
            await asyncio.gather(*runs)

    def _app(self) -> App:
        app = App(connector=PsycopgConnector(conninfo=self.queue.conninfo, min_size=1, max_size=self.concurrency + 4))
        app.task(name=RUN_TASK, pass_context=True)(self._run_task)
        for name, every, task in self.queue.periodic:
            task_name = f"reelserve.{name}"
            periodic = app.task(
                name=task_name, queue=MAINTENANCE_QUEUE, queueing_lock=task_name, pass_context=False
            )(self._periodic_run(task))
            app.periodic(cron=cron_every(every), periodic_id=name)(periodic)
        return app

    def _periodic_run(self, task: Callable[[], object]) -> Callable[[int], None]:
        def run(timestamp: int) -> None:
            self.queue.release_stalled_maintenance()
            task()

        return run

    def _run_task(self, context: Any, prediction_id: str) -> None:
        worker_id = f"{self.worker_name}-j{context.job.id}"
        now = utcnow()
        with self.queue.database.write() as connection:
            job = transitions.start(connection, prediction_id, worker_id, now + self.queue.lease, now)
        if job is None:
            return  # cancelled, deleted, or run by another worker already
        self._run_watched(job, worker_id)
