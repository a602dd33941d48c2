"""Each key's jobs in flight, counted on its row

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("in_flight", sa.Integer(), nullable=False, server_default="0"))
    op.get_bind().execute(
        sa.text(
            "UPDATE api_keys SET in_flight = (SELECT count(*) FROM predictions WHERE predictions.key_id = api_keys.id "
            "AND predictions.status IN ('created', 'processing'))"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("in_flight")
