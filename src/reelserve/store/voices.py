"""Queries on custom voices."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelserve.store.tables import Voice


def add(session: Session, voice: Voice) -> None:
    session.add(voice)
    session.flush()


def get_owned(session: Session, voice_id: str, key_id: str) -> Voice | None:
    return session.scalars(select(Voice).where(Voice.id == voice_id, Voice.key_id == key_id)).one_or_none()


def list_owned(session: Session, key_id: str) -> list[Voice]:
    return list(session.scalars(select(Voice).where(Voice.key_id == key_id).order_by(Voice.created_at.desc())).all())


def delete(session: Session, voice: Voice) -> None:
    session.delete(voice)
