"""A count of each key's predictions, kept with the key: the history's total without counting a million rows

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("predictions_count", sa.BigInteger(), nullable=False, server_default="0"))
    op.get_bind().execute(
        sa.text(
            "UPDATE api_keys SET predictions_count = (SELECT count(*) FROM predictions "
            "WHERE predictions.key_id = api_keys.id AND predictions.deleted_at IS NULL)"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("predictions_count")
