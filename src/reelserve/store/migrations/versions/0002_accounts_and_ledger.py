"""Accounts, the money ledger, and per-key limits

Revision ID: 0002
Revises: 0001
"""

import secrets

import sqlalchemy as sa
from alembic import op

from reelserve.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("balance_micros", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(32), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_micros", sa.BigInteger(), nullable=False),
        sa.Column("prediction_id", sa.String(32), nullable=True),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("prediction_id", "kind", name="uq_ledger_prediction_kind"),
    )
    op.create_index("ix_ledger_account_id", "ledger_entries", ["account_id", "id"])

    # Keys made before accounts existed each get an account of their own, with no money.
    connection = op.get_bind()
    keys = connection.execute(sa.text("SELECT id, name, created_at FROM api_keys")).all()
    account_of: dict[str, str] = {}
    for key_id, name, created_at in keys:
        account_id = "acct_" + secrets.token_hex(8)
        account_of[key_id] = account_id
        connection.execute(
            sa.text("INSERT INTO accounts (id, name, balance_micros, created_at) VALUES (:i, :n, 0, :c)"),
            {"i": account_id, "n": name, "c": created_at},
        )

    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("account_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="user"))
        batch.add_column(sa.Column("rpm_limit", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("concurrency_limit", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("allowed_models", sa.JSON(), nullable=True))
    for key_id, account_id in account_of.items():
        connection.execute(
            sa.text("UPDATE api_keys SET account_id = :a WHERE id = :k"), {"a": account_id, "k": key_id}
        )
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("account_id", existing_type=sa.String(32), nullable=False)
        batch.create_foreign_key("fk_api_keys_account", "accounts", ["account_id"], ["id"])

    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("account_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("price_micros", sa.BigInteger(), nullable=False, server_default="0"))
    connection.execute(
        sa.text("UPDATE predictions SET account_id = (SELECT account_id FROM api_keys WHERE api_keys.id = key_id)")
    )
    with op.batch_alter_table("predictions") as batch:
        batch.alter_column("account_id", existing_type=sa.String(32), nullable=False)
        batch.create_foreign_key("fk_predictions_account", "accounts", ["account_id"], ["id"])
    op.create_index("ix_predictions_key_status", "predictions", ["key_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_predictions_key_status", "predictions")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_constraint("fk_predictions_account", type_="foreignkey")
        batch.drop_column("price_micros")
        batch.drop_column("account_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("fk_api_keys_account", type_="foreignkey")
        for column in ("allowed_models", "concurrency_limit", "rpm_limit", "role", "account_id"):
            batch.drop_column(column)
    op.drop_table("ledger_entries")
    op.drop_table("accounts")
