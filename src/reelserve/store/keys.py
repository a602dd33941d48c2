"""Queries on API keys. Keys are stored only as SHA-256 hashes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelserve.store.tables import ApiKey, utcnow


def add(session: Session, key: ApiKey) -> None:
    session.add(key)
    session.flush()


def find_active_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalars(
        select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    ).one_or_none()


def list_all(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all())


def revoke(session: Session, key_id: str) -> ApiKey | None:
    key = session.get(ApiKey, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def set_limits(session: Session, key_id: str, columns: dict[str, object]) -> ApiKey | None:
    key = session.get(ApiKey, key_id)
    if key is not None:
        for column, value in columns.items():
            setattr(key, column, value)
    return key


def count(session: Session) -> int:
    return len(session.scalars(select(ApiKey.id)).all())
