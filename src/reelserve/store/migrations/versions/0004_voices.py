"""Custom voices

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from reelserve.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voices",
        sa.Column("id", sa.String(24), primary_key=True),
        sa.Column("key_id", sa.String(32), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("name", sa.String(20), nullable=True),
        sa.Column("prediction_id", sa.String(32), nullable=False),
        sa.Column("storage_key", sa.String(300), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_voices_key_created", "voices", ["key_id", "created_at"])


def downgrade() -> None:
    op.drop_table("voices")
