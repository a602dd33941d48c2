"""Idempotency keys past their lifetime are forgotten (jobs/admission.py claims and reads them)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from reelserve.store.database import Database
from reelserve.store.tables import IdempotencyKey, utcnow

LIFETIME = timedelta(hours=24)


def forget_expired(database: Database) -> int:
    with database.write() as connection:
        forgotten = connection.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - LIFETIME))
        return forgotten.rowcount
