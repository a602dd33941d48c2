"""Queries on uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from reelserve.store.database import Database
from reelserve.store.tables import Upload


def add(session: Session, upload: Upload) -> None:
    session.add(upload)
    session.flush()


def get(session: Session, upload_id: str) -> Upload | None:
    return session.get(Upload, upload_id)


_OWNER_AND_STATUS = select(Upload.key_id, Upload.status, Upload.size).where(Upload.id == bindparam("upload_id"))


def owner_and_status(database: Database, upload_id: str) -> Any | None:
    return database.read_one(_OWNER_AND_STATUS, {"upload_id": upload_id})


def expired(session: Session, now: datetime, limit: int = 500) -> list[Upload]:
    return list(session.scalars(select(Upload).where(Upload.expires_at < now).limit(limit)).all())


def delete(session: Session, upload: Upload) -> None:
    session.delete(upload)
