"""The lifecycle's rules, through the JobQueue protocol, for every queue backend (tests/jobs/conftest.py).

Each test ends with the account's balance equal to the sum of its ledger."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from reelserve.engines.base import StopReason, StopToken
from reelserve.errors import InputError
from reelserve.jobs import admission
from reelserve.jobs.lifecycle import Lifecycle
from reelserve.jobs.queue import PRIORITY_RETRY
from reelserve.jobs.status import FailureKind
from reelserve.jobs.transitions import Ended, JobResult
from reelserve.store import predictions as prediction_store
from tests.jobs.conftest import PRICE, Harness, Recorder

STARTING_BALANCE = 100_000_000


def finish(lifecycle: Lifecycle) -> Recorder:
    return Recorder(lambda job, _token: lifecycle.finish(job.id, job.worker_id, JobResult(outputs=[], inference_ms=1)))


def run_until_stopped(lifecycle: Lifecycle, stopped: list[tuple[str, StopReason | None, float]]) -> Recorder:
    """Works until its stop token says so, then ends the job as the worker does for that reason."""

    def act(job: Any, token: StopToken) -> None:
        deadline = time.monotonic() + 30
        while not token() and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped.append((job.id, token.reason, time.monotonic()))
        if token.reason == StopReason.CANCEL:
            lifecycle.stopped_for_cancel(job.id, job.worker_id)
        elif token.reason == StopReason.TIMEOUT:
            lifecycle.expire(job.id, job.worker_id)
        else:
            lifecycle.requeue(job.id, job.worker_id)

    return Recorder(act)


def test_a_job_is_queued_only_if_its_admission_commits(harness: Harness) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort), harness.database.write() as connection:
        job = admission.NewJobRow(
            id="f" * 32, key_id=harness.key.id, account_id=harness.key.account_id, model="m", params={}, inputs={},
            price_micros=PRICE, in_flight_limit=10, queue="q",
        )
        admission.admit(connection, harness.queue, [job])
        raise Abort()
    recorder = finish(harness.lifecycle)
    harness.consume(recorder)
    admitted = harness.admit()[0]
    harness.wait_for(admitted, {"completed"})
    assert recorder.runs == [admitted], "the rolled-back job was never queued"
    assert harness.status("f" * 32) == "absent"
    assert harness.balance() == STARTING_BALANCE - PRICE


def test_every_admitted_job_runs_exactly_once(harness: Harness) -> None:
    recorder = finish(harness.lifecycle)
    harness.consume(recorder, concurrency=3)
    harness.consume(recorder, concurrency=2)
    jobs = harness.admit(12)
    for job in jobs:
        harness.wait_for(job, {"completed"})
    assert sorted(recorder.runs) == sorted(jobs)
    assert harness.balance() == STARTING_BALANCE - 12 * PRICE


def test_a_consumer_takes_only_the_queues_it_serves(harness: Harness) -> None:
    gpu, cpu = finish(harness.lifecycle), finish(harness.lifecycle)
    harness.consume(gpu, queues=["gpu"])
    harness.consume(cpu, queues=["cpu"])
    gpu_jobs, cpu_jobs = harness.admit(3, queue="gpu"), harness.admit(3, queue="cpu")
    for job in gpu_jobs + cpu_jobs:
        harness.wait_for(job, {"completed"})
    assert sorted(gpu.runs) == sorted(gpu_jobs) and sorted(cpu.runs) == sorted(cpu_jobs)


def test_a_waiting_jobs_place_counts_the_jobs_of_its_queue_before_it(harness: Harness) -> None:
    """What a poll shows as queue_position - 1: admitted together or one by one, each job has its own place."""
    together, alone, elsewhere = harness.admit(3), harness.admit(1), harness.admit(2, queue="other")

    def ahead(prediction_id: str) -> int | None:
        row = prediction_store.owned_row(harness.database, prediction_id, harness.key.id)
        assert row is not None
        return row.ahead

    assert [ahead(job) for job in together + alone] == [0, 1, 2, 3]
    assert [ahead(job) for job in elsewhere] == [0, 1]
    started = harness.start_and_lose()
    assert started == together[0]
    assert [ahead(job) for job in together + alone] == [None, 0, 1, 2], "a started job has no place"


def test_a_job_cancelled_while_waiting_never_runs_and_is_refunded_once(harness: Harness) -> None:
    waiting = harness.admit(2)
    row = harness.lifecycle.cancel(waiting[0], harness.key.id)
    assert row.status == "cancelled"
    with pytest.raises(InputError, match="already ended with status cancelled"):
        harness.lifecycle.cancel(waiting[0], harness.key.id)
    recorder = finish(harness.lifecycle)
    harness.consume(recorder)
    harness.wait_for(waiting[1], {"completed"})
    assert recorder.runs == [waiting[1]]
    assert harness.status(waiting[0]) == "cancelled" and harness.refunded(waiting[0])
    assert harness.balance() == STARTING_BALANCE - PRICE


def test_a_running_job_stops_for_a_cancel_within_two_seconds(harness: Harness) -> None:
    stopped: list[tuple[str, StopReason | None, float]] = []
    recorder = run_until_stopped(harness.lifecycle, stopped)
    harness.consume(recorder)
    job = harness.admit()[0]
    assert recorder.started.wait(10)
    asked = time.monotonic()
    assert harness.lifecycle.cancel(job, harness.key.id).status == "processing", "a running job ends when it stops"
    harness.wait_for(job, {"cancelled"})
    assert stopped[0][1] == StopReason.CANCEL and stopped[0][2] - asked < 2.0
    assert harness.refunded(job) and harness.balance() == STARTING_BALANCE


def test_shutdown_sends_running_jobs_back_to_the_queue_uncounted(harness: Harness) -> None:
    stopped: list[tuple[str, StopReason | None, float]] = []
    first = harness.consume(run_until_stopped(harness.lifecycle, stopped))
    job = harness.admit()[0]
    harness.wait_for(job, {"processing"})
    first.stop(10)
    assert stopped[0][1] == StopReason.SHUTDOWN
    assert harness.status(job) == "created" and harness.row(job).attempts == 0
    harness.consume(finish(harness.lifecycle))
    harness.wait_for(job, {"completed"})
    assert harness.balance() == STARTING_BALANCE - PRICE


def test_a_lost_workers_job_runs_again_first_and_fails_refunded_after_max_attempts(harness: Harness) -> None:
    lost = harness.admit()[0]
    assert harness.start_and_lose() == lost
    assert harness.lifecycle.recover_lost()["requeued"] == [lost]
    assert harness.status(lost) == "created" and harness.row(lost).priority == PRIORITY_RETRY
    newer = harness.admit()[0]
    assert harness.start_and_lose() == lost, "the retried job goes before the newer one"
    assert harness.lifecycle.recover_lost()["failed"] == [lost], "started twice: max_attempts reached"
    assert harness.status(lost) == "failed" and harness.refunded(lost)
    recorder = finish(harness.lifecycle)
    harness.consume(recorder)
    harness.wait_for(newer, {"completed"})
    assert recorder.runs == [newer]
    assert harness.balance() == STARTING_BALANCE - PRICE


def test_a_job_past_its_deadline_is_stopped_for_timeout_and_refunded(harness: Harness) -> None:
    stopped: list[tuple[str, StopReason | None, float]] = []
    harness.consume(run_until_stopped(harness.lifecycle, stopped))
    job = harness.admit(max_run_seconds=1)[0]
    harness.wait_for(job, {"timeout"})
    assert stopped[0][1] == StopReason.TIMEOUT
    row = harness.row(job)
    assert "longer than its limit of 1 s" in row.error and harness.refunded(job)
    assert harness.balance() == STARTING_BALANCE


def test_a_hung_job_is_ended_timeout_by_maintenance_and_its_late_result_refused(harness: Harness) -> None:
    release = threading.Event()
    late: list[Any] = []

    def hang_then_finish(job: Any, _token: StopToken) -> None:
        release.wait(30)
        late.append(harness.lifecycle.finish(job.id, job.worker_id, JobResult(outputs=[], inference_ms=1)))

    harness.consume(Recorder(hang_then_finish))
    job = harness.admit(max_run_seconds=1)[0]
    harness.wait_for(job, {"processing"})
    time.sleep(1.2)
    assert harness.lifecycle.expire_overdue(grace_seconds=0) == [job]
    release.set()
    deadline = time.monotonic() + 10
    while not late and time.monotonic() < deadline:
        time.sleep(0.05)
    assert late == [None], "the hung worker's result came after the job had ended"
    assert harness.status(job) == "timeout" and harness.balance() == STARTING_BALANCE


def test_a_cancel_interrupted_by_a_crash_still_ends_cancelled_and_refunded(harness: Harness) -> None:
    job = harness.admit()[0]
    assert harness.start_and_lose() == job
    assert harness.lifecycle.cancel(job, harness.key.id).status == "processing"
    assert harness.lifecycle.recover_lost()["cancelled"] == [job]
    assert harness.status(job) == "cancelled" and harness.refunded(job)
    assert harness.balance() == STARTING_BALANCE


def test_deleted_jobs_never_start_and_are_refunded(harness: Harness) -> None:
    jobs = harness.admit(2)
    deleted = harness.lifecycle.delete([jobs[0], "0" * 32], harness.key.id)
    assert [row.id for row in deleted] == [jobs[0]]
    recorder = finish(harness.lifecycle)
    harness.consume(recorder)
    harness.wait_for(jobs[1], {"completed"})
    assert recorder.runs == [jobs[1]]
    assert harness.status(jobs[0]) == "cancelled" and harness.row(jobs[0]).deleted_at is not None
    assert harness.balance() == STARTING_BALANCE - PRICE


def test_a_cancel_racing_a_worker_that_takes_the_job_never_deadlocks(harness: Harness) -> None:
    stopped: list[tuple[str, StopReason | None, float]] = []
    harness.consume(run_until_stopped(harness.lifecycle, stopped), concurrency=2)
    jobs = []
    for _ in range(15):
        job = harness.admit()[0]
        jobs.append(job)
        harness.lifecycle.cancel(job, harness.key.id)  # right as a worker wakes to take it
    for job in jobs:
        assert harness.wait_for(job, {"cancelled"}) == "cancelled"
        assert harness.refunded(job)
    assert harness.balance() == STARTING_BALANCE


def test_each_end_is_told_to_the_listeners_once_as_its_row_says(harness: Harness) -> None:
    told: list[Ended] = []
    harness.lifecycle.on_ended(told.append)
    cancelled, deleted = harness.admit(2)
    harness.lifecycle.cancel(cancelled, harness.key.id)
    harness.lifecycle.delete([deleted], harness.key.id)
    lost = harness.admit()[0]
    for _ in range(2):
        assert harness.start_and_lose() == lost
        harness.lifecycle.recover_lost()
    overdue = harness.admit(max_run_seconds=1)[0]
    assert harness.start_and_lose() == overdue
    time.sleep(1.1)
    assert harness.lifecycle.expire_overdue(grace_seconds=0) == [overdue]
    assert [end.prediction_id for end in told] == [cancelled, deleted, lost, overdue]
    for end in told:
        row = harness.row(end.prediction_id)
        assert (end.status, end.error, end.model, end.key_id, end.worker_id, end.refunded_micros) == (
            row.status, row.error, row.model, row.key_id, row.worker_id, PRICE
        )
        assert end.ended_at is not None and (end.started_at is None) == (row.started_at is None)
    assert [end.error for end in told[:2]] == ["cancelled before it started"] * 2
    assert [end.failure for end in told] == [None, None, FailureKind.CRASH, FailureKind.TIMEOUT]
