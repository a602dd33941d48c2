"""A job's life as log events and metrics: accepted (or refused), started on a worker, its progress milestones,
ended with its status and duration.

`ended` is a Lifecycle listener (`lifecycle.on_ended`): it runs once the transaction that ended the job commits,
whatever ended it (a worker, a cancel, the maintenance that recovers lost jobs), and reads all it needs from the
`Ended` it is given. The others are called where the event happens: the intake once a job is admitted, the API
edge where a submit is refused, the runner when it starts a job and as it reports progress.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from reelserve.errors import (
    AuthenticationError,
    ClientGone,
    ContentPolicyViolation,
    InsufficientBalance,
    PermissionDenied,
    RateLimited,
    ReelserveError,
)
from reelserve.jobs.status import FailureKind
from reelserve.observe import context, metrics, tracing

log = logging.getLogger("reelserve.jobs")

MILESTONES = (25, 50, 75)


class EndedJob(Protocol):
    """What jobs/transitions.Ended says of a job that ended."""

    prediction_id: str
    status: str
    model: str
    queue: str
    key_id: str | None
    worker_id: str | None
    error: str | None
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    refunded_micros: int
    failure: FailureKind | None


def accepted(prediction_id: str, route: str, queue: str, key_id: str, price_micros: int) -> None:
    """A job admitted: charged and queued. Called in the submitting request's context."""
    metrics.submitted(route, price_micros)
    context.bind(prediction_id=prediction_id)
    log.info(
        "prediction %s accepted for %s", prediction_id, route,
        extra={"fields": {"event": "job.accepted", "prediction_id": prediction_id, "key_id": key_id,
                          "route": route, "queue": queue, "price_usd": price_micros / 1_000_000}},
    )


def refusal_reason(error: BaseException) -> str | None:
    """validation, policy, balance or rate_limit for an error that refused a submit; None for the server's own
    errors, an unknown key and a client that went away."""
    if not isinstance(error, ReelserveError) or isinstance(error, ClientGone | AuthenticationError):
        return None
    if error.status >= 500:
        return None
    if isinstance(error, RateLimited):
        return "rate_limit"
    if isinstance(error, InsufficientBalance):
        return "balance"
    if isinstance(error, ContentPolicyViolation | PermissionDenied):
        return "policy"
    return "validation"


def refused(route: str, error: BaseException) -> None:
    """A submit to `route` refused with `error`; other dialects' submit routes call this as the v3 one does."""
    reason = refusal_reason(error)
    if reason is not None:
        metrics.refused(route, reason)


def started(job: Any, worker: str) -> None:
    """A worker took the job (a prediction row, started): its wait in the queue is over."""
    waited = (job.started_at - job.created_at).total_seconds() if job.started_at and job.created_at else 0.0
    metrics.QUEUE_TIME.labels(job.model, job.queue).observe(max(0.0, waited))
    if job.started_at and job.created_at:
        tracing.timed_span("queue", job.created_at, job.started_at, job.id, **{tracing.ROUTE: job.model})
    log.info(
        "prediction %s started on worker %s after %.3f s in queue %s", job.id, worker, waited, job.queue,
        extra={"fields": {"event": "job.started", "prediction_id": job.id, "key_id": job.key_id, "worker": worker,
                          "route": job.model, "queue": job.queue, "attempt": job.attempts,
                          "queued_ms": round(waited * 1000)}},
    )


class Milestones:
    """Logs a job's progress as it passes 25, 50 and 75 percent, each once."""

    def __init__(self, prediction_id: str) -> None:
        self.prediction_id = prediction_id
        self._next = 0

    def passed(self, percent: int) -> None:
        while self._next < len(MILESTONES) and percent >= MILESTONES[self._next]:
            milestone = MILESTONES[self._next]
            self._next += 1
            log.info(
                "prediction %s is %d%% done", self.prediction_id, milestone,
                extra={"fields": {"event": "job.progress", "prediction_id": self.prediction_id,
                                  "progress": milestone}},
            )


def ended(job: EndedJob) -> None:
    """The Lifecycle listener: the job's end counted, timed and logged."""
    route, queue, status = job.model, job.queue, str(job.status)
    counted = bool(route)  # an Ended that names no route (built by hand) is logged, not counted
    if counted:
        metrics.ENDED.labels(route, status).inc()
    run_seconds = None
    if job.started_at is not None and job.ended_at is not None:
        run_seconds = max(0.0, (job.ended_at - job.started_at).total_seconds())
        if counted:
            metrics.RUN_TIME.labels(route, queue).observe(run_seconds)
    kind = None
    if status in ("failed", "timeout"):
        kind = job.failure or (FailureKind.TIMEOUT if status == "timeout" else FailureKind.OTHER)
        if counted:
            metrics.ENGINE_FAILURES.labels(route, queue, kind).inc()
    if job.refunded_micros and counted:
        metrics.REFUNDED.labels(route).inc(job.refunded_micros / 1_000_000)
    total = (job.ended_at - job.created_at).total_seconds() if job.ended_at and job.created_at else None
    fields: dict[str, Any] = {
        "event": "job.ended", "prediction_id": job.prediction_id, "route": route, "queue": queue, "status": status,
        "duration_ms": round(total * 1000) if total is not None else None,
        "run_ms": round(run_seconds * 1000) if run_seconds is not None else None,
    }
    if job.key_id is not None:
        fields["key_id"] = job.key_id
    if job.worker_id is not None:
        fields["worker"] = job.worker_id
    if kind is not None:
        fields.update(failure=kind, error=job.error)
    if job.refunded_micros:
        fields["refunded_usd"] = job.refunded_micros / 1_000_000
    log.info(
        "prediction %s ended %s after %s", job.prediction_id, status,
        f"{total:.3f} s" if total is not None else "an unknown time", extra={"fields": fields},
    )
