"""Migrations bring a database that already holds data up to date, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from reelserve.jobs.status import IN_FLIGHT
from reelserve.store import accounts as account_store
from reelserve.store.database import Database
from tests.support.databases import database_url


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_keys_and_predictions_made_before_accounts_get_an_account(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        database = Database(url)
        database.migrate("0001")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO api_keys (id, name, key_hash, key_prefix, created_at) "
                "VALUES ('key_old', 'old', :hash, 'sk-old', CURRENT_TIMESTAMP)"), {"hash": "0" * 64})
            connection.execute(text(
                "INSERT INTO predictions (id, key_id, model, status, params, inputs, outputs, has_nsfw_contents, "
                "progress, attempts, created_at) VALUES ('p1', 'key_old', 'm', 'completed', '{}', '{}', '[]', '[]', "
                "100, 1, CURRENT_TIMESTAMP)"))
        database.migrate()
        database.migrate()
        with database.engine.connect() as connection:
            account_id = connection.execute(text("SELECT account_id FROM api_keys WHERE id = 'key_old'")).scalar()
            assert account_id and account_id.startswith("acct_")
            row = connection.execute(text("SELECT account_id, price_micros FROM predictions WHERE id = 'p1'")).one()
            assert tuple(row) == (account_id, 0)
            role = connection.execute(text("SELECT role FROM api_keys")).scalar()
            assert role == "user"
        with database.session() as session:
            assert account_store.get(session, account_id).balance_micros == 0
            assert account_store.ledger_sum(session, account_id) == 0
        database.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_keys_get_their_jobs_in_flight_counted(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        database = Database(url)
        database.migrate("0004")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO accounts (id, name, balance_micros, created_at) "
                "VALUES ('acct_1', 'a', 0, CURRENT_TIMESTAMP)"))
            for key_id in ("key_busy", "key_idle"):
                connection.execute(text(
                    "INSERT INTO api_keys (id, name, account_id, key_hash, key_prefix, created_at) "
                    "VALUES (:id, 'k', 'acct_1', :hash, 'sk-k', CURRENT_TIMESTAMP)"),
                    {"id": key_id, "hash": key_id * 4})
            for number, status in enumerate(["created", "processing", "completed", "failed", "created"]):
                connection.execute(text(
                    "INSERT INTO predictions (id, key_id, account_id, model, status, params, inputs, outputs, "
                    "has_nsfw_contents, progress, attempts, created_at) VALUES (:id, 'key_busy', 'acct_1', 'm', "
                    ":status, '{}', '{}', '[]', '[]', 0, 0, CURRENT_TIMESTAMP)"),
                    {"id": f"p{number}", "status": status})
        database.migrate()
        with database.engine.connect() as connection:
            for key_id, expected in (("key_busy", 3), ("key_idle", 0)):
                assert account_store.in_flight(connection, key_id) == expected
                assert account_store.counted_in_flight(connection, key_id, IN_FLIGHT) == expected
        database.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_uploads_made_before_their_facts_were_kept_have_none(backend: str, tmp_path: Path) -> None:
    """A submit then reads and checks such an upload's file (tests/test_upload_facts.py)."""
    with database_url(backend, tmp_path) as url:
        database = Database(url)
        database.migrate("0009")
        with database.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO accounts (id, name, balance_micros, created_at) "
                "VALUES ('acct_1', 'a', 0, CURRENT_TIMESTAMP)"))
            connection.execute(text(
                "INSERT INTO api_keys (id, name, account_id, key_hash, key_prefix, created_at) "
                "VALUES ('key_1', 'k', 'acct_1', :hash, 'sk-k', CURRENT_TIMESTAMP)"), {"hash": "1" * 64})
            connection.execute(text(
                "INSERT INTO uploads (id, key_id, kind, filename, content_type, size, storage_key, status, "
                "created_at, expires_at) VALUES ('u1', 'key_1', 'image', 'cat.png', 'image/png', 10, "
                "'uploads/u1/cat.png', 'complete', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        database.migrate()
        with database.engine.connect() as connection:
            row = connection.execute(text(
                "SELECT id, size, status, image_format, image_width, image_height FROM uploads")).one()
        assert tuple(row) == ("u1", 10, "complete", None, None, None)
        database.dispose()
