"""Queries on uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from reelserve.store.database import Database
from reelserve.store.tables import Upload


def add(session: Session, upload: Upload) -> None:
    session.add(upload)
    session.flush()


def get(session: Session, upload_id: str) -> Upload | None:
    return session.get(Upload, upload_id)


PENDING, RECEIVING = "pending", "receiving"


def claim(session: Session, upload_id: str) -> bool:
    """Marks a pending upload as being received, in one statement: of concurrent claims exactly one wins."""
    claimed = session.execute(
        update(Upload).where(Upload.id == upload_id, Upload.status == PENDING).values(status=RECEIVING),
        execution_options={"synchronize_session": False},
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def release(session: Session, upload_id: str) -> None:
    session.execute(
        update(Upload).where(Upload.id == upload_id, Upload.status == RECEIVING).values(status=PENDING),
        execution_options={"synchronize_session": False},
    )


_OWNER_AND_STATUS = select(
    Upload.key_id, Upload.status, Upload.size, Upload.image_format, Upload.image_width, Upload.image_height
).where(Upload.id == bindparam("upload_id"))


def owner_and_status(database: Database, upload_id: str) -> Any | None:
    return database.read_one(_OWNER_AND_STATUS, {"upload_id": upload_id})


def expired(session: Session, now: datetime, limit: int = 500) -> list[Upload]:
    return list(session.scalars(select(Upload).where(Upload.expires_at < now).limit(limit)).all())


def delete(session: Session, upload: Upload) -> None:
    session.delete(upload)
