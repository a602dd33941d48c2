"""Queries on webhook deliveries and their attempts. Rows are made by the lifecycle (jobs/transitions.py) in the
transaction that ends a job; these claim the due ones, record attempts, and read them back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from reelserve.store.tables import ApiKey, WebhookAttempt, WebhookDelivery

D = WebhookDelivery.__table__.c
A = WebhookAttempt.__table__.c
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def due(connection: Connection, now: datetime, limit: int) -> list[tuple[str, datetime]]:
    """Up to `limit` deliveries due now, oldest first, as (id, when it fell due) for `hold`."""
    return [
        (delivery_id, was_due)
        for delivery_id, was_due in connection.execute(
            select(D.id, D.next_attempt_at)
            .where(D.status == PENDING, D.next_attempt_at <= now)
            .order_by(D.next_attempt_at)
            .limit(limit)
        )
    ]


def hold(connection: Connection, due: list[tuple[str, datetime]], hold_until: datetime) -> list[Any]:
    """Of the deliveries `due` found, those still due, each held until `hold_until` so that no other process sends
    it meanwhile (should this one die while sending, another sends it once the hold runs out)."""
    claimed: list[str] = []
    for delivery_id, was_due in due:
        held = connection.execute(
            update(WebhookDelivery)
            .where(D.id == delivery_id, D.status == PENDING, D.next_attempt_at == was_due)
            .values(next_attempt_at=hold_until)
        )
        if held.rowcount == 1:
            claimed.append(delivery_id)
    if not claimed:
        return []
    return list(connection.execute(select(WebhookDelivery.__table__).where(D.id.in_(claimed))).all())


def keep_body(connection: Connection, delivery_id: str, body: str) -> None:
    connection.execute(update(WebhookDelivery).where(D.id == delivery_id, D.body.is_(None)).values(body=body))


def record_attempt(
    connection: Connection, delivery_id: str, at: datetime, status_code: int | None, error: str | None,
    duration_ms: int, outcome: str, next_attempt_at: datetime,
) -> None:
    connection.execute(
        insert(WebhookAttempt),
        {"delivery_id": delivery_id, "at": at, "status_code": status_code, "error": (error or None) and error[:500],
         "duration_ms": duration_ms},
    )
    connection.execute(
        update(WebhookDelivery)
        .where(D.id == delivery_id)
        .values(
            attempts=D.attempts + 1, status=outcome, next_attempt_at=next_attempt_at,
            delivered_at=at if outcome == DELIVERED else None,
        )
    )


def for_prediction(connection: Connection, prediction_id: str) -> list[tuple[Any, list[Any]]]:
    deliveries = connection.execute(
        select(WebhookDelivery.__table__).where(D.prediction_id == prediction_id).order_by(D.created_at)
    ).all()
    result = []
    for delivery in deliveries:
        attempts = connection.execute(
            select(WebhookAttempt.__table__).where(A.delivery_id == delivery.id).order_by(A.id)
        ).all()
        result.append((delivery, list(attempts)))
    return result


def secret_of(connection: Connection, key_id: str) -> str | None:
    return connection.execute(select(ApiKey.webhook_secret).where(ApiKey.id == key_id)).scalar_one_or_none()


def set_secret(connection: Connection, key_id: str, secret: str, only_if_unset: bool) -> str:
    """Sets the key's secret (where `only_if_unset`, only if it has none yet); returns the secret in force."""
    change = update(ApiKey).where(ApiKey.id == key_id).values(webhook_secret=secret)
    if only_if_unset:
        change = change.where(ApiKey.webhook_secret.is_(None))
    connection.execute(change)
    current = secret_of(connection, key_id)
    assert current is not None
    return current
