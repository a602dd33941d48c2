"""An uploaded image's facts, found when it arrives: a submit applies the rules to them without reading the file

Revision ID: 0010
Revises: 0009

Uploads made before this revision have none; their files are read and checked at submit, as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("image_format", sa.String(8), nullable=True))
        batch.add_column(sa.Column("image_width", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("image_height", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("image_height")
        batch.drop_column("image_width")
        batch.drop_column("image_format")
