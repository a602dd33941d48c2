"""The only code that moves a job from one status to another.

Each function runs inside the caller's open transaction and writes, with the status, everything that must go with
it: the in-flight slot on the key, the refund in the ledger, the webhook delivery row, the queue entry. A job ends
in exactly one place, `_end`, whatever ended it.

    created ──start──> processing ──finish──> completed
       │                  │ ├──fail────────> failed
       │                  │ ├──stopped for cancel──> cancelled
       │                  │ └──expire──────> timeout
       │                  └──requeue (shutdown, lost worker)──> created
       └──cancel──> cancelled
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from reelserve.errors import InputError, NotFound
from reelserve.jobs.queue import PRIORITY_RETRY, JobQueue, LostJob, QueuedJob
from reelserve.jobs.status import ENDED, FailureKind, Status
from reelserve.store import accounts
from reelserve.store.tables import ApiKey, Prediction, Voice, WebhookDelivery

P = Prediction.__table__.c
_ROW = select(Prediction.__table__).where(P.id == bindparam("id"))
_ROW_FOR_UPDATE = _ROW.with_for_update()


@dataclass(frozen=True)
class JobResult:
    """What a worker made of a job that succeeded."""

    outputs: list[str]
    inference_ms: int
    has_nsfw_contents: list[bool] = field(default_factory=list)
    posters: list[str] = field(default_factory=list)
    engine_details: dict[str, Any] | None = None
    created_voice: dict[str, Any] | None = None
    """The voices row a voice-creation job makes, inserted in the transaction that completes it."""


@dataclass(frozen=True)
class Ended:
    prediction_id: str
    status: Status
    model: str = ""
    queue: str = ""
    key_id: str | None = None
    worker_id: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    refunded_micros: int = 0
    """What the job's end gave back to its account."""
    failure: FailureKind | None = None
    """Why a job that ended failed or timeout did, as the code that ended it knew."""

    @classmethod
    def of(cls, row: Any, status: Status | None = None, ended_at: datetime | None = None) -> Ended:
        """A job's end as its row, read after the end, says; or, from a row read before, as `status` and `ended_at`
        say."""
        status = Status(status or row.status)
        return cls(
            row.id, status, model=row.model, queue=row.queue, key_id=row.key_id, worker_id=row.worker_id,
            error=row.error, created_at=row.created_at, started_at=row.started_at,
            ended_at=ended_at or row.completed_at,
            refunded_micros=row.price_micros if status != Status.COMPLETED else 0,
        )


def read(connection: Connection, prediction_id: str, for_update: bool = False) -> Any | None:
    return connection.execute(_ROW_FOR_UPDATE if for_update else _ROW, {"id": prediction_id}).one_or_none()


def start(connection: Connection, prediction_id: str, worker_id: str, lease_until: datetime, now: datetime) -> Any:
    """created -> processing under `worker_id`'s lease; None where the job may not start (it was cancelled,
    deleted, or another worker has it)."""
    row = read(connection, prediction_id, for_update=True)
    if row is None or row.status != Status.CREATED or row.deleted_at is not None:
        return None
    deadline = now + timedelta(seconds=row.max_run_seconds) if row.max_run_seconds else None
    connection.execute(
        update(Prediction)
        .where(P.id == prediction_id)
        .values(
            status=Status.PROCESSING, worker_id=worker_id, lease_expires_at=lease_until, attempts=P.attempts + 1,
            started_at=now, progress=0, deadline_at=deadline,
        )
    )
    return read(connection, prediction_id)


def finish(
    connection: Connection, prediction_id: str, worker_id: str, result: JobResult, now: datetime
) -> Ended | None:
    """processing -> completed; or cancelled where a cancel arrived while the job ran (its outputs are then the
    caller's to remove). None where this worker no longer holds the job."""
    row = _held(connection, prediction_id, worker_id)
    if row is None:
        return None
    if row.cancel_requested_at is not None:
        return _end(connection, row, Status.CANCELLED, now, error=_cancelled_message(row))
    if result.created_voice is not None:
        connection.execute(insert(Voice), result.created_voice)
    return _end(connection, row, Status.COMPLETED, now, result=result)


def fail(
    connection: Connection, prediction_id: str, worker_id: str, error: str, inference_ms: int, kind: FailureKind,
    now: datetime,
) -> Ended | None:
    row = _held(connection, prediction_id, worker_id)
    if row is None:
        return None
    return _end(connection, row, Status.FAILED, now, error=error, inference_ms=inference_ms, failure=kind)


def stopped_for_cancel(connection: Connection, prediction_id: str, worker_id: str, now: datetime) -> Ended | None:
    """A running job whose engine stopped because it was cancelled: processing -> cancelled."""
    row = _held(connection, prediction_id, worker_id)
    if row is None:
        return None
    return _end(connection, row, Status.CANCELLED, now, error=_cancelled_message(row))


def expire(connection: Connection, prediction_id: str, worker_id: str | None, now: datetime) -> Ended | None:
    """processing -> timeout: the job ran past its max_run_seconds. `worker_id` None: whoever holds it (a worker
    stuck in a call that never returns)."""
    row = read(connection, prediction_id, for_update=True)
    if row is None or row.status != Status.PROCESSING or (worker_id is not None and row.worker_id != worker_id):
        return None
    message = f"the job ran longer than its limit of {row.max_run_seconds} s and was stopped"
    return _end(connection, row, Status.TIMEOUT, now, error=message, failure=FailureKind.TIMEOUT)


def requeue(
    connection: Connection, queue: JobQueue, prediction_id: str, worker_id: str | None, count_attempt: bool,
    now: datetime,
) -> Ended | bool:
    """processing -> created, queued again ahead of new jobs: its worker shut down (`count_attempt` False) or was
    lost (True: after max attempts the job fails instead, see `recover_lost`). A job whose cancel was asked for
    meanwhile ends cancelled instead (returned as Ended). False where the worker no longer holds the job."""
    row = read(connection, prediction_id, for_update=True)
    if row is None or row.status != Status.PROCESSING or (worker_id is not None and row.worker_id != worker_id):
        return False
    if row.cancel_requested_at is not None:
        return _end(connection, row, Status.CANCELLED, now, error=_cancelled_message(row))
    connection.execute(
        update(Prediction)
        .where(P.id == prediction_id)
        .values(
            status=Status.CREATED, worker_id=None, lease_expires_at=None, deadline_at=None, progress=0,
            priority=PRIORITY_RETRY, attempts=row.attempts if count_attempt else max(0, row.attempts - 1),
        )
    )
    queue.enqueue(connection, [QueuedJob(prediction_id, row.queue, PRIORITY_RETRY)])
    return True


def cancel(
    connection: Connection, queue: JobQueue, prediction_id: str, key_id: str, now: datetime
) -> tuple[Any, Ended | None]:
    """A waiting job ends cancelled at once; a running one is marked, and ends cancelled when its worker sees the
    mark (at the engine's next step). Returns the row as it is after, and its end where it ended here. InputError
    where the job has ended."""
    # The queue entry first, then the prediction: a worker taking the job locks them in that order too.
    queue.discard(connection, prediction_id)
    row = _owned(connection, prediction_id, key_id)
    if row.status in ENDED:
        raise InputError(
            f"prediction {prediction_id} has already ended with status {row.status}; "
            "only a created or processing prediction can be cancelled"
        )
    ended = _cancel_unended(connection, row, now)
    return read(connection, prediction_id), ended


def delete(
    connection: Connection, queue: JobQueue, prediction_ids: Sequence[str], key_id: str, now: datetime
) -> tuple[list[Any], list[Ended]]:
    """Cancels each of the caller's predictions that has not ended and marks it deleted. Returns the deleted rows,
    whose files the caller removes once this commits, and the ends of the waiting ones this cancelled; others' and
    unknown ids are left alone."""
    owned = connection.execute(
        select(P.id).where(P.id.in_(list(prediction_ids)), P.key_id == key_id, P.deleted_at.is_(None))
    ).scalars().all()
    # The queue entries first, then the predictions: a worker taking a job locks them in that order too.
    for prediction_id in owned:
        queue.discard(connection, prediction_id)
    rows = connection.execute(
        select(Prediction.__table__)
        .where(P.id.in_(list(prediction_ids)), P.key_id == key_id, P.deleted_at.is_(None))
        .with_for_update()
    ).all()
    ended = [_cancel_unended(connection, row, now) for row in rows if row.status not in ENDED]
    if rows:
        connection.execute(update(Prediction).where(P.id.in_([row.id for row in rows])).values(deleted_at=now))
        connection.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(predictions_count=ApiKey.predictions_count - len(rows))
        )
    return list(rows), [end for end in ended if end is not None]


def heartbeat(connection: Connection, running: dict[str, str], lease_until: datetime) -> set[str]:
    """Renews the leases of the jobs each worker holds ({prediction id: worker id}); returns those of them whose
    cancel was asked for."""
    if not running:
        return set()
    connection.execute(
        update(Prediction)
        .where(P.id == bindparam("job"), P.worker_id == bindparam("worker"), P.status == Status.PROCESSING)
        .values(lease_expires_at=bindparam("lease")),
        [{"job": job, "worker": worker, "lease": lease_until} for job, worker in running.items()],
    )
    marked = connection.execute(
        select(P.id).where(P.id.in_(list(running)), P.cancel_requested_at.is_not(None))
    ).scalars()
    return set(marked)


def set_progress(connection: Connection, prediction_id: str, worker_id: str, percent: int) -> None:
    connection.execute(
        update(Prediction)
        .where(P.id == prediction_id, P.worker_id == worker_id, P.status == Status.PROCESSING)
        .values(progress=percent)
    )


def _overdue(now: datetime, grace: timedelta) -> Any:
    return and_(P.status == Status.PROCESSING, P.deadline_at.is_not(None), P.deadline_at < now - grace)


def lease_expired(connection: Connection, now: datetime) -> list[LostJob]:
    """Running jobs whose worker stopped renewing their lease: the embedded queue's test of a lost worker."""
    rows = connection.execute(
        select(P.id, P.worker_id).where(
            P.status == Status.PROCESSING, or_(P.lease_expires_at.is_(None), P.lease_expires_at < now)
        )
    ).all()
    return [LostJob(row.id, row.worker_id) for row in rows]


def any_overdue(connection: Connection, now: datetime, grace: timedelta) -> bool:
    return connection.execute(select(P.id).where(_overdue(now, grace)).limit(1)).first() is not None


@dataclass
class Recovery:
    """What became of the jobs of lost workers: run again, or ended (failed after their last attempt, or cancelled
    where a cancel was asked for meanwhile)."""

    requeued: list[str] = field(default_factory=list)
    ended: list[Ended] = field(default_factory=list)

    def by_outcome(self) -> dict[str, list[str]]:
        return {
            "requeued": self.requeued,
            "failed": [end.prediction_id for end in self.ended if end.status == Status.FAILED],
            "cancelled": [end.prediction_id for end in self.ended if end.status == Status.CANCELLED],
        }


def recover_lost(
    connection: Connection, queue: JobQueue, lost: Sequence[LostJob], now: datetime, max_attempts: int
) -> Recovery:
    """Jobs whose worker is gone (a crash, kill -9, a lost machine; the queue backend decides which) run again,
    ahead of new jobs, or fail and are refunded once they have been started `max_attempts` times. A job that
    another worker holds by now, or that ended meanwhile, is left alone."""
    recovery = Recovery()
    if not lost:
        return recovery
    rows = connection.execute(
        select(Prediction.__table__).where(P.id.in_([job.prediction_id for job in lost])).with_for_update()
    ).all()
    current = {row.id: row for row in rows}
    confirmed = [
        job for job in lost
        if (row := current.get(job.prediction_id)) is not None
        and row.status == Status.PROCESSING and row.worker_id == job.worker_id
    ]
    queue.release_lost(connection, confirmed)
    for job in confirmed:
        row = current[job.prediction_id]
        if row.cancel_requested_at is None and row.attempts >= max_attempts:
            message = f"the worker running this job stopped {row.attempts} times (server restart or crash); giving up"
            recovery.ended.append(_end(connection, row, Status.FAILED, now, error=message, failure=FailureKind.CRASH))
            continue
        requeued = requeue(connection, queue, row.id, row.worker_id, count_attempt=True, now=now)
        if isinstance(requeued, Ended):
            recovery.ended.append(requeued)
        elif requeued:
            recovery.requeued.append(row.id)
    return recovery


def expire_overdue(connection: Connection, now: datetime, grace: timedelta) -> list[Ended]:
    """Running jobs past their deadline by more than `grace`: their worker did not stop them (a call that never
    returns), so they end timeout here; the worker's late result is then refused."""
    overdue = connection.execute(select(P.id).where(_overdue(now, grace))).scalars().all()
    ended = [expire(connection, job, None, now) for job in overdue]
    return [end for end in ended if end is not None]


def expire_outputs(connection: Connection, ended_before: datetime, now: datetime, limit: int) -> list[Any]:
    """Marks the files of jobs that ended before `ended_before` as removed; returns those rows, whose files the
    caller removes once this commits."""
    rows = connection.execute(
        select(Prediction.__table__)
        .where(
            P.status.in_(list(ENDED)), P.completed_at < ended_before, P.outputs_expired_at.is_(None),
            P.deleted_at.is_(None),
        )
        .order_by(P.completed_at)
        .limit(limit)
    ).all()
    if rows:
        connection.execute(
            update(Prediction).where(P.id.in_([row.id for row in rows])).values(outputs_expired_at=now)
        )
    return list(rows)


def stored_files(row: Any) -> list[str]:
    """Storage keys of everything kept for a job: its inputs, output files and posters. (A voice-creation job's
    output is a voice id, not a file: the voice's sample stays with the voice.)"""
    files = [value for value in (row.inputs or {}).values() if isinstance(value, str)]
    files += [output for output in (row.outputs or []) if output.startswith(OUTPUTS_PREFIX)]
    return files + list(row.posters or [])


OUTPUTS_PREFIX = "outputs/"


def _held(connection: Connection, prediction_id: str, worker_id: str) -> Any | None:
    row = read(connection, prediction_id, for_update=True)
    if row is None or row.status != Status.PROCESSING or row.worker_id != worker_id:
        return None
    return row


def _owned(connection: Connection, prediction_id: str, key_id: str) -> Any:
    row = read(connection, prediction_id, for_update=True)
    if row is None or row.key_id != key_id or row.deleted_at is not None:
        raise NotFound(f"no prediction with id {prediction_id}")
    return row


def _cancel_unended(connection: Connection, row: Any, now: datetime) -> Ended | None:
    """A waiting job's end; a running one is only marked (None). The caller has taken the job out of its queue
    already (see `cancel`)."""
    if row.status == Status.CREATED:
        return _end(connection, row, Status.CANCELLED, now, error="cancelled before it started")
    if row.cancel_requested_at is None:
        connection.execute(update(Prediction).where(P.id == row.id).values(cancel_requested_at=now))
    return None


def _cancelled_message(row: Any) -> str:
    return "deleted while it was running" if row.deleted_at is not None else "cancelled while it was running"


def _end(
    connection: Connection, row: Any, status: Status, now: datetime, error: str | None = None,
    result: JobResult | None = None, inference_ms: int | None = None, failure: FailureKind | None = None,
) -> Ended:
    values: dict[str, Any] = {
        "status": status, "error": error, "completed_at": now, "lease_expires_at": None,
        "execution_ms": int((now - row.created_at).total_seconds() * 1000),
    }
    if result is not None:
        values.update(
            progress=100, outputs=result.outputs, posters=result.posters, inference_ms=result.inference_ms,
            has_nsfw_contents=result.has_nsfw_contents or [False] * len(result.outputs),
            engine_details=result.engine_details,
        )
    elif inference_ms is not None:
        values["inference_ms"] = inference_ms
    connection.execute(
        update(Prediction).where(and_(P.id == row.id, P.status == row.status)).values(**values)
    )
    accounts.free_in_flight_slot(connection, row.key_id)
    if status != Status.COMPLETED:
        accounts.refund_once(connection, row.id, row.account_id, row.price_micros, f"refund: job {status}")
    if row.webhook_url:
        connection.execute(
            insert(WebhookDelivery),
            {
                "id": secrets.token_hex(16), "prediction_id": row.id, "key_id": row.key_id, "url": row.webhook_url,
                "status": "pending", "attempts": 0, "next_attempt_at": now, "body": None, "created_at": now,
                "delivered_at": None,
            },
        )
    return replace(Ended.of(row, status, ended_at=now), error=error, failure=failure)
