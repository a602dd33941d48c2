"""Queries on uploads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelserve.store.tables import Upload


def add(session: Session, upload: Upload) -> None:
    session.add(upload)
    session.flush()


def get(session: Session, upload_id: str) -> Upload | None:
    return session.get(Upload, upload_id)


def expired(session: Session, now: datetime, limit: int = 500) -> list[Upload]:
    return list(session.scalars(select(Upload).where(Upload.expires_at < now).limit(limit)).all())


def delete(session: Session, upload: Upload) -> None:
    session.delete(upload)
