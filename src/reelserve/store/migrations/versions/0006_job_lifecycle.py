"""The job lifecycle: queues, cancel and delete, deadlines, webhooks, idempotency, retention

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from reelserve.store.tables import UTCDateTime

LIVE = sa.text("deleted_at IS NULL")
HISTORY_INDEXES = {
    "ix_predictions_history": ["key_id", "created_at", "id"],
    "ix_predictions_history_status": ["key_id", "status", "created_at", "id"],
    "ix_predictions_history_model": ["key_id", "model", "created_at", "id"],
}

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("webhook_secret", sa.String(64), nullable=True))
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("queue", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("max_run_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("deadline_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("cancel_requested_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("deleted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("outputs_expired_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("webhook_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("base_url", sa.String(500), nullable=True))
        batch.add_column(sa.Column("posters", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("engine_details", sa.JSON(), nullable=True))
        batch.drop_index("ix_predictions_key_status")
        for name, columns in HISTORY_INDEXES.items():
            batch.create_index(name, columns, sqlite_where=LIVE, postgresql_where=LIVE)
        batch.create_index("ix_predictions_waiting", ["queue", "status", "priority", "created_at"])
        batch.create_index("ix_predictions_ended", ["status", "completed_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("prediction_id", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_webhooks_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_webhooks_prediction", "webhook_deliveries", ["prediction_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("prediction_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_idempotency_created", "idempotency_keys", ["created_at"])
    op.create_table(
        "embedded_queue",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("prediction_id", sa.String(32), nullable=False, unique=True),
        sa.Column("queue", sa.String(200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
    )
    op.create_index("ix_embedded_queue_next", "embedded_queue", ["queue", "priority", "id"])
    # Jobs waiting from before this revision wait in the embedded queue now.
    op.get_bind().execute(
        sa.text(
            "INSERT INTO embedded_queue (prediction_id, queue, priority) "
            "SELECT id, '', 0 FROM predictions WHERE status = 'created' ORDER BY created_at"
        )
    )


def downgrade() -> None:
    op.drop_table("embedded_queue")
    op.drop_table("idempotency_keys")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_index("ix_predictions_ended")
        batch.drop_index("ix_predictions_waiting")
        for name in HISTORY_INDEXES:
            batch.drop_index(name)
        batch.create_index("ix_predictions_key_status", ["key_id", "status"])
        for column in ("engine_details", "posters", "base_url", "webhook_url", "outputs_expired_at", "deleted_at",
                       "cancel_requested_at", "deadline_at", "max_run_seconds", "priority", "queue"):
            batch.drop_column(column)
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("webhook_secret")
