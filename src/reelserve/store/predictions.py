"""Queries on the predictions table; the job queue's claims and leases live here too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from reelserve.store import accounts
from reelserve.store.database import Database
from reelserve.store.tables import Prediction, Voice, utcnow


def get(session: Session, prediction_id: str) -> Prediction | None:
    return session.get(Prediction, prediction_id)


_OWNED_ROW = select(Prediction.__table__).where(
    Prediction.__table__.c.id == bindparam("prediction_id"), Prediction.__table__.c.key_id == bindparam("key_id")
)


def owned_row(database: Database, prediction_id: str, key_id: str) -> Any | None:
    """The prediction's columns as attributes, without the ORM: the polling path reads this."""
    return database.read_one(_OWNED_ROW, {"prediction_id": prediction_id, "key_id": key_id})


def claim_next(
    session: Session, worker_id: str, lease_until: datetime, models: list[str] | None = None
) -> Prediction | None:
    """Move the oldest waiting job to processing under this worker's lease, or return None."""
    candidates = select(Prediction.id).where(Prediction.status == "created")
    if models is not None:
        candidates = candidates.where(Prediction.model.in_(models))
    candidates = candidates.order_by(Prediction.created_at).limit(8)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    for prediction_id in session.scalars(candidates).all():
        claimed = session.execute(
            update(Prediction)
            .where(Prediction.id == prediction_id, Prediction.status == "created")
            .values(
                status="processing",
                worker_id=worker_id,
                lease_expires_at=lease_until,
                attempts=Prediction.attempts + 1,
                started_at=utcnow(),
                progress=0,
            )
        )
        if claimed.rowcount == 1:
            return session.get(Prediction, prediction_id, populate_existing=True)
    return None


def renew_leases(session: Session, worker_id: str, prediction_ids: list[str], lease_until: datetime) -> None:
    if not prediction_ids:
        return
    session.execute(
        update(Prediction)
        .where(
            Prediction.id.in_(prediction_ids),
            Prediction.worker_id == worker_id,
            Prediction.status == "processing",
        )
        .values(lease_expires_at=lease_until)
    )


def set_progress(session: Session, prediction_id: str, worker_id: str, progress: int) -> None:
    session.execute(
        update(Prediction)
        .where(
            Prediction.id == prediction_id,
            Prediction.worker_id == worker_id,
            Prediction.status == "processing",
        )
        .values(progress=progress)
    )


@dataclass(frozen=True)
class Outcome:
    status: str
    outputs: list[str]
    error: str | None
    inference_ms: int | None
    has_nsfw_contents: list[bool]
    created_voice: Voice | None = None


def finish(session: Session, prediction_id: str, worker_id: str, outcome: Outcome) -> bool:
    """Record how a job ended; False when this worker no longer holds the job."""
    prediction = session.get(Prediction, prediction_id, with_for_update=True)
    if prediction is None or prediction.status != "processing" or prediction.worker_id != worker_id:
        return False
    now = utcnow()
    prediction.status = outcome.status
    accounts.free_in_flight_slot(session, prediction.key_id)
    prediction.outputs = outcome.outputs
    prediction.error = outcome.error
    prediction.has_nsfw_contents = outcome.has_nsfw_contents
    prediction.completed_at = now
    prediction.lease_expires_at = None
    prediction.inference_ms = outcome.inference_ms
    prediction.execution_ms = int((now - prediction.created_at).total_seconds() * 1000)
    if outcome.status == "completed":
        prediction.progress = 100
        if outcome.created_voice is not None:
            session.add(outcome.created_voice)
    else:
        accounts.refund_once(session, prediction, f"refund: job {outcome.status}")
    return True


def release_abandoned(session: Session, now: datetime, max_attempts: int) -> dict[str, list[str]]:
    """Jobs whose worker stopped renewing its lease go back to the queue, or fail after max_attempts."""
    stale = session.scalars(
        select(Prediction)
        .where(
            Prediction.status == "processing",
            or_(Prediction.lease_expires_at.is_(None), Prediction.lease_expires_at < now),
        )
        .with_for_update()
    ).all()
    released: dict[str, list[str]] = {"requeued": [], "failed": []}
    for prediction in stale:
        prediction.worker_id = None
        prediction.lease_expires_at = None
        if prediction.attempts >= max_attempts:
            prediction.status = "failed"
            accounts.free_in_flight_slot(session, prediction.key_id)
            prediction.error = (
                f"the worker running this job stopped {prediction.attempts} times "
                "(server restart or crash); giving up"
            )
            prediction.completed_at = now
            prediction.execution_ms = int((now - prediction.created_at).total_seconds() * 1000)
            accounts.refund_once(session, prediction, "refund: job failed")
            released["failed"].append(prediction.id)
        else:
            prediction.status = "created"
            prediction.progress = 0
            released["requeued"].append(prediction.id)
    return released
