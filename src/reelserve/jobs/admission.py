"""The admit transition: new jobs admitted together, each taking a slot on its key and its price from its
account, queued in the same transaction, in statements whose number does not grow with the batch.

Each key's row and its account's are locked and read once (FOR UPDATE on PostgreSQL; SQLite's writer holds
the whole database), every job is decided in order against those figures, and the changes are written back
with one statement per table (see store/driver_statements). A job sent with an Idempotency-Key first claims
that key; a key already claimed within its lifetime answers the job that claimed it instead (a replay).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from reelserve.errors import InputError
from reelserve.jobs.queue import JobQueue, QueuedJob
from reelserve.jobs.status import Status
from reelserve.store import driver_statements
from reelserve.store.idempotency import LIFETIME as IDEMPOTENCY_LIFETIME
from reelserve.store.tables import Account, ApiKey, IdempotencyKey, LedgerEntry, Prediction, utcnow

CHARGE = "charge"

_KEY_AND_ACCOUNT = (
    select(ApiKey.in_flight, ApiKey.account_id, Account.balance_micros)
    .join(Account, Account.id == ApiKey.account_id)
    .where(ApiKey.id == bindparam("key"))
    .with_for_update()
)
_TAKE_SLOTS = (
    update(ApiKey)
    .where(ApiKey.id == bindparam("key"))
    .values(
        in_flight=ApiKey.in_flight + bindparam("taken"),
        predictions_count=ApiKey.predictions_count + bindparam("taken"),
    )
)
_CHARGE = (
    update(Account)
    .where(Account.id == bindparam("account"))
    .values(balance_micros=Account.balance_micros - bindparam("charged"))
)
_NEW_PREDICTIONS = insert(Prediction)
_NEW_ENTRIES = insert(LedgerEntry)
IK = IdempotencyKey.__table__.c


@dataclass(frozen=True)
class Idempotency:
    key: str
    request_hash: str


@dataclass(frozen=True)
class NewJobRow:
    id: str
    key_id: str
    account_id: str
    model: str
    params: dict[str, Any]
    inputs: dict[str, Any]
    price_micros: int
    in_flight_limit: int
    queue: str
    binding: str | None = None
    max_run_seconds: int | None = None
    webhook_url: str | None = None
    base_url: str | None = None
    idempotency: Idempotency | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a job was not admitted, with the figures it was judged by."""

    in_flight: int
    in_flight_limit: int
    balance_micros: int
    price_micros: int

    @property
    def too_many_in_flight(self) -> bool:
        return self.in_flight >= self.in_flight_limit


@dataclass(frozen=True)
class Replay:
    """The job's Idempotency-Key was claimed already: this is the prediction it claimed it for."""

    row: Any


Outcome = dict[str, Any] | Refusal | Replay | InputError


def admit(connection: Connection, queue: JobQueue, jobs: Sequence[NewJobRow]) -> list[Outcome]:
    """For each job in order: its new prediction row (all columns) where it was admitted, else why not."""
    now = utcnow()
    replays = _claim_idempotency_keys(connection, jobs, now)
    in_flight: dict[str, int] = {}
    balance: dict[str, int] = {}
    # One key at a time in the order of their ids, so that two batches lock rows in the same order.
    for key_id in sorted({job.key_id for job in jobs}):
        found = driver_statements.read_one(connection, _KEY_AND_ACCOUNT, {"key": key_id})
        if found is not None:
            in_flight[key_id] = found.in_flight
            balance.setdefault(found.account_id, found.balance_micros)
    taken: Counter[str] = Counter()
    charged: Counter[str] = Counter()
    outcomes: list[Outcome] = []
    rows: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    unclaimed: list[NewJobRow] = []
    for job in jobs:
        if job.id in replays:
            outcomes.append(replays[job.id])
            continue
        running = in_flight.get(job.key_id, 0)
        available = balance.get(job.account_id, 0)
        if running >= job.in_flight_limit or available < job.price_micros:
            outcomes.append(Refusal(running, job.in_flight_limit, available, job.price_micros))
            if job.idempotency is not None:
                unclaimed.append(job)
            continue
        in_flight[job.key_id] = running + 1
        taken[job.key_id] += 1
        # A microsecond apart, in the order they are queued: each job of the batch has its own place in its queue.
        row = _prediction_row(job, now + timedelta(microseconds=len(rows)))
        rows.append(row)
        outcomes.append(row)
        if job.price_micros:
            balance[job.account_id] = available - job.price_micros
            charged[job.account_id] += job.price_micros
            entries.append({
                "account_id": job.account_id, "kind": CHARGE, "amount_micros": -job.price_micros,
                "balance_after_micros": balance[job.account_id], "prediction_id": job.id, "note": job.model,
                "created_at": now,
            })
    driver_statements.write_many(connection, _TAKE_SLOTS, [{"key": key, "taken": n} for key, n in taken.items()])
    driver_statements.write_many(connection, _NEW_PREDICTIONS, rows)
    driver_statements.write_many(
        connection, _CHARGE, [{"account": account, "charged": amount} for account, amount in charged.items()]
    )
    driver_statements.write_many(connection, _NEW_ENTRIES, entries)
    queue.enqueue(connection, [QueuedJob(row["id"], row["queue"]) for row in rows])
    for job in unclaimed:
        connection.execute(delete(IdempotencyKey).where(IK.key_id == job.key_id, IK.prediction_id == job.id))
    return _resolve_batch_replays(outcomes, jobs)


def _claim_idempotency_keys(connection: Connection, jobs: Sequence[NewJobRow], now: datetime) -> dict[str, Any]:
    """Claims each job's Idempotency-Key for it; returns {job id: Replay | InputError | its first's id} for the
    jobs whose key was claimed already (by an earlier request, or earlier in this batch)."""
    replays: dict[str, Any] = {}
    first_in_batch: dict[tuple[str, str], NewJobRow] = {}
    for job in jobs:
        if job.idempotency is None:
            continue
        identity = (job.key_id, job.idempotency.key)
        earlier = first_in_batch.get(identity)
        if earlier is not None:
            replays[job.id] = _same_request(job, earlier.idempotency.request_hash, earlier.id)  # type: ignore[union-attr]
            continue
        first_in_batch[identity] = job
        claimed = connection.execute(
            _insert_ignoring_conflict(connection)
            .values(
                key_id=job.key_id, idempotency_key=job.idempotency.key, request_hash=job.idempotency.request_hash,
                prediction_id=job.id, created_at=now,
            )
            .returning(IK.prediction_id)
        ).first()
        if claimed is not None:
            continue
        existing = connection.execute(
            select(IdempotencyKey.__table__).where(IK.key_id == job.key_id, IK.idempotency_key == job.idempotency.key)
            .with_for_update()
        ).one()
        if existing.created_at < now - IDEMPOTENCY_LIFETIME:
            connection.execute(
                update(IdempotencyKey)
                .where(IK.key_id == job.key_id, IK.idempotency_key == job.idempotency.key)
                .values(request_hash=job.idempotency.request_hash, prediction_id=job.id, created_at=now)
            )
            continue
        outcome = _same_request(job, existing.request_hash, existing.prediction_id)
        if isinstance(outcome, str):
            row = connection.execute(select(Prediction.__table__).where(Prediction.id == outcome)).one_or_none()
            outcome = Replay(row) if row is not None else InputError(
                f"the Idempotency-Key {job.idempotency.key!r} was used for a prediction that no longer exists; "
                "use a new key"
            )
        replays[job.id] = outcome
    return replays


def _same_request(job: NewJobRow, request_hash: str, prediction_id: str) -> str | InputError:
    assert job.idempotency is not None
    if request_hash != job.idempotency.request_hash:
        return InputError(
            f"the Idempotency-Key {job.idempotency.key!r} was already used with a different request; "
            "use a new key for a new request"
        )
    return prediction_id


def _resolve_batch_replays(outcomes: list[Outcome | str], jobs: Sequence[NewJobRow]) -> list[Outcome]:
    """A job replaying one earlier in the same batch gets that job's outcome: its row, or its refusal."""
    by_id = {job.id: outcome for job, outcome in zip(jobs, outcomes, strict=True)}
    resolved: list[Outcome] = []
    for outcome in outcomes:
        if isinstance(outcome, str):
            first = by_id[outcome]
            outcome = Replay(first) if isinstance(first, dict) else first
        resolved.append(outcome)  # type: ignore[arg-type]
    return resolved


def _insert_ignoring_conflict(connection: Connection) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(IdempotencyKey).on_conflict_do_nothing()


def _prediction_row(job: NewJobRow, now: datetime) -> dict[str, Any]:
    return {
        "id": job.id, "key_id": job.key_id, "account_id": job.account_id, "price_micros": job.price_micros,
        "model": job.model, "params": job.params, "inputs": job.inputs, "status": Status.CREATED.value,
        "outputs": [], "has_nsfw_contents": [], "progress": 0, "attempts": 0, "created_at": now, "error": None,
        "execution_ms": None, "inference_ms": None, "queue": job.queue, "priority": 0,
        "max_run_seconds": job.max_run_seconds, "webhook_url": job.webhook_url, "base_url": job.base_url,
        "posters": [], "worker_id": None, "lease_expires_at": None, "started_at": None, "completed_at": None,
        "deadline_at": None, "cancel_requested_at": None, "deleted_at": None, "outputs_expired_at": None,
        "engine_details": {"binding": job.binding} if job.binding else None,
    }
