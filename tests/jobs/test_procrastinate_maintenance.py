"""procrastinate's periodic recovery of lost jobs goes on after a worker is killed while running it."""

from __future__ import annotations

import pytest
from procrastinate import SyncPsycopgConnector
from procrastinate.jobs import Job
from procrastinate.manager import JobManager
from procrastinate.sql import queries
from sqlalchemy import text

from reelserve.jobs.lifecycle import JobResult
from reelserve.jobs.procrastinate_queue import MAINTENANCE_QUEUE
from tests.jobs.conftest import BACKENDS, Harness, Recorder

RECOVERY = "recover-lost-jobs"
RECOVERY_TASK = f"reelserve.{RECOVERY}"
PROCRASTINATE = [backend for backend in BACKENDS if backend.name == "procrastinate-postgresql"]


def defer_recovery_run(harness: Harness, *, lock: str | None) -> None:
    job = Job(queue=MAINTENANCE_QUEUE, lock=lock, queueing_lock=RECOVERY_TASK, task_name=RECOVERY_TASK,
              task_kwargs={"timestamp": 0})
    with harness.database.write() as connection:
        JobManager(SyncPsycopgConnector()).batch_defer_jobs([job], connection=connection.connection.driver_connection)


def take_recovery_run_and_die(harness: Harness) -> int:
    """A maintenance worker takes the waiting recovery run and is killed in the middle of it: the run stays `doing`
    and the worker's heartbeat stops. The run's id."""
    connector = SyncPsycopgConnector()
    with harness.database.write() as connection:
        raw = connection.connection.driver_connection
        worker = connector.execute_query_one_with_connection(raw, queries["register_worker"])["worker_id"]
        taken = connector.execute_query_one_with_connection(
            raw, queries["fetch_job"], queues=[MAINTENANCE_QUEUE], worker_id=worker
        )
        assert taken["task_name"] == RECOVERY_TASK
        connection.execute(
            text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = :id"),
            {"id": worker},
        )
    return int(taken["id"])


def recovery_runs(harness: Harness) -> list[tuple[str, str | None]]:
    with harness.database.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT status, lock FROM procrastinate_jobs WHERE task_name = :task AND status IN ('todo', 'doing')"
        ), {"task": RECOVERY_TASK})
        return [(row.status, row.lock) for row in rows]


def run_status(harness: Harness, job_id: int) -> str:
    with harness.database.engine.connect() as connection:
        return str(connection.execute(text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id})
                   .scalar())


@pytest.mark.parametrize("harness", PROCRASTINATE, indirect=True, ids=lambda backend: backend.name)
@pytest.mark.parametrize("left_by", ["this version", "a version that gave the run a lock"])
def test_a_recovery_run_killed_midway_holds_up_no_later_recovery(harness: Harness, left_by: str) -> None:
    # A lock on the run (as before this version) made the killed run hold every later one back for good: the next
    # run waited behind it, and while it waited its queueing lock kept any other from being deferred.
    lost = harness.admit()[0]
    assert harness.start_and_lose() == lost
    lock = RECOVERY_TASK if left_by != "this version" else None
    defer_recovery_run(harness, lock=lock)
    killed = take_recovery_run_and_die(harness)
    defer_recovery_run(harness, lock=lock)
    assert sorted(recovery_runs(harness)) == [("doing", lock), ("todo", lock)]

    harness.queue.schedule(RECOVERY, 1, harness.lifecycle.recover_lost)  # type: ignore[attr-defined]
    recorder = Recorder(lambda job, _token: harness.lifecycle.finish(
        job.id, job.worker_id, JobResult(outputs=[], inference_ms=1)
    ))
    harness.consume(recorder)
    harness.wait_for(lost, {"completed"}, timeout=30)
    assert recorder.runs == [lost] and harness.row(lost).attempts == 2

    assert run_status(harness, killed) == "failed", "ended by the consumer that found its worker gone"
