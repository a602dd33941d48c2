"""The intake transaction: new jobs admitted together, each taking a slot on its key and its price from its
account, in statements whose number does not grow with the batch.

Each key's row and its account's are locked and read once (FOR UPDATE on PostgreSQL; SQLite's writer holds
the whole database), every job is decided in order against those figures, and the changes are written back
with one statement per table (see driver_statements).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from reelserve.store import driver_statements
from reelserve.store.tables import Account, ApiKey, LedgerEntry, Prediction, utcnow

CHARGE = "charge"

_KEY_AND_ACCOUNT = (
    select(ApiKey.in_flight, ApiKey.account_id, Account.balance_micros)
    .join(Account, Account.id == ApiKey.account_id)
    .where(ApiKey.id == bindparam("key"))
    .with_for_update()
)
_TAKE_SLOTS = (
    update(ApiKey).where(ApiKey.id == bindparam("key")).values(in_flight=ApiKey.in_flight + bindparam("taken"))
)
_CHARGE = (
    update(Account)
    .where(Account.id == bindparam("account"))
    .values(balance_micros=Account.balance_micros - bindparam("charged"))
)
_NEW_PREDICTIONS = insert(Prediction)
_NEW_ENTRIES = insert(LedgerEntry)


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


def admit(connection: Connection, jobs: Sequence[NewJobRow]) -> list[dict[str, Any] | Refusal]:
    """For each job in order: its new prediction row (all columns) where it was admitted, else its Refusal."""
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
    now = utcnow()
    outcomes: list[dict[str, Any] | Refusal] = []
    rows: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for job in jobs:
        running = in_flight.get(job.key_id, 0)
        available = balance.get(job.account_id, 0)
        if running >= job.in_flight_limit or available < job.price_micros:
            outcomes.append(Refusal(running, job.in_flight_limit, available, job.price_micros))
            continue
        in_flight[job.key_id] = running + 1
        taken[job.key_id] += 1
        row = _prediction_row(job, now)
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
    return outcomes


def _prediction_row(job: NewJobRow, now: Any) -> dict[str, Any]:
    return {
        "id": job.id, "key_id": job.key_id, "account_id": job.account_id, "price_micros": job.price_micros,
        "model": job.model, "params": job.params, "inputs": job.inputs, "status": "created", "outputs": [],
        "has_nsfw_contents": [], "progress": 0, "attempts": 0, "created_at": now, "error": None,
        "execution_ms": None, "inference_ms": None,
    }
