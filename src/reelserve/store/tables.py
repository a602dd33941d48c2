"""SQLAlchemy tables; every query written against them runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite hands back naive ones, which this re-tags as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Account(Base):
    """Who pays. Money is integer micro-dollars (1 USD = 1,000,000), exact on every database."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    balance_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Base):
    """Append-only; an account's balance is always the sum of its entries."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("prediction_id", "kind", name="uq_ledger_prediction_kind"),
        Index("ix_ledger_account_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    balance_after_micros: Mapped[int] = mapped_column(BigInteger)
    prediction_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    role: Mapped[str] = mapped_column(String(16), default="user")
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    in_flight: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    predictions_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The key's predictions not deleted, kept in the transactions that admit and delete them (history totals)."""
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """`whsec_...`, the HMAC key of this key's webhook deliveries; kept as is, since signing needs it."""


LIVE = text("deleted_at IS NULL")


class Prediction(Base):
    """A job and its result. Its `status` is written only by jobs/transitions.py."""

    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_status_created", "status", "created_at"),
        Index("ix_predictions_key_created", "key_id", "created_at"),
        # History pages (newest first, ties by id) and their counts walk only these, deleted predictions left out.
        Index("ix_predictions_history", "key_id", "created_at", "id", sqlite_where=LIVE, postgresql_where=LIVE),
        Index(
            "ix_predictions_history_status", "key_id", "status", "created_at", "id", sqlite_where=LIVE,
            postgresql_where=LIVE,
        ),
        Index(
            "ix_predictions_history_model", "key_id", "model", "created_at", "id", sqlite_where=LIVE,
            postgresql_where=LIVE,
        ),
        Index("ix_predictions_waiting", "queue", "status", "priority", "created_at"),
        Index("ix_predictions_ended", "status", "completed_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    price_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[list[str]] = mapped_column(JSON, default=list)
    has_nsfw_contents: Mapped[list[bool]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    execution_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    inference_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    queue: Mapped[str] = mapped_column(String(200), default="", server_default="")
    """The queue the job waits in: one per engine binding, so that a worker takes only jobs it can run."""
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_run_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outputs_expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    base_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    """The public base URL the job was submitted at: its webhook's links are made with it."""
    posters: Mapped[list[str]] = mapped_column(JSON, default=list)
    engine_details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """Which engine served the job and what it reported (a provider's job id, cost, timings): admin-visible."""


class WebhookDelivery(Base):
    """One job's webhook, written in the transaction that ends the job; retried until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhooks_due", "status", "next_attempt_at"),
        Index("ix_webhooks_prediction", "prediction_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    prediction_id: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The JSON sent, fixed at the first attempt so that every retry sends the same bytes."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(Base):
    """A submit's Idempotency-Key: the same key and body within 24 hours answer the first prediction again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_created", "created_at"),)

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    prediction_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EmbeddedQueueEntry(Base):
    """The embedded job queue: a row per job waiting for a worker, written in the transaction that admits it."""

    __tablename__ = "embedded_queue"
    __table_args__ = (Index("ix_embedded_queue_next", "queue", "priority", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prediction_id: Mapped[str] = mapped_column(String(32), unique=True)
    queue: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=0)


class Upload(Base):
    """A file a client uploaded to use as an input; it belongs to one key and expires."""

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    declared_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    storage_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    image_format: Mapped[str | None] = mapped_column(String(8), nullable=True)
    """For an image found intact when it arrived: its format and upright size (media.image.ImageFacts)."""
    image_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    image_height: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Voice(Base):
    """A custom voice: a checked, normalised sample that generation requests name in voice_list."""

    __tablename__ = "voices"
    __table_args__ = (Index("ix_voices_key_created", "key_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    name: Mapped[str | None] = mapped_column(String(20), nullable=True)
    prediction_id: Mapped[str] = mapped_column(String(32))
    storage_key: Mapped[str] = mapped_column(String(300))
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WorkerRow(Base):
    """A `reelserve worker` (or a server's in-process workers) as it last reported itself."""

    __tablename__ = "workers"
    __table_args__ = (Index("ix_workers_heartbeat", "last_heartbeat_at"),)

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    routes: Mapped[list[str]] = mapped_column(JSON)
    queues: Mapped[list[str]] = mapped_column(JSON)
    concurrency: Mapped[int] = mapped_column(Integer)
    running: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
