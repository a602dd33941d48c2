"""Scale-out: procrastinate's schema (PostgreSQL only) and the workers table

Revision ID: 0007
Revises: 0006

procrastinate's schema is its own `schema.sql`, of the version installed (pinned in pyproject.toml), applied here
so that `reelserve` brings a database up to date at start and nobody runs procrastinate's CLI by hand. Raising
the pin comes with a later revision that applies procrastinate's own migration files between the two versions.
On SQLite (the embedded queue) there is nothing of procrastinate to create.
"""

import sqlalchemy as sa
from alembic import op

from reelserve.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("running", sa.JSON(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("last_heartbeat_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_workers_heartbeat", "workers", ["last_heartbeat_at"])
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    present = bind.execute(sa.text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar()
    if not present:
        from procrastinate.schema import SchemaManager

        # Through psycopg itself, without parameters: the file is many statements, its % signs literal.
        with bind.connection.driver_connection.cursor() as cursor:
            cursor.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.drop_index("ix_workers_heartbeat", table_name="workers")
    op.drop_table("workers")
