"""Writes on SQLite's own connection (store/driver_statements.py) store what SQLAlchemy would have stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from reelserve.store import driver_statements
from reelserve.store.database import Database
from reelserve.store.tables import Account, Prediction

MOMENT = datetime(2026, 12, 1, 17, 30, 5, 123456, tzinfo=UTC)


def account(account_id: str) -> dict[str, Any]:
    return {"id": account_id, "name": "n", "balance_micros": 5, "created_at": MOMENT}


def prediction(prediction_id: str, key_id: str) -> dict[str, Any]:
    return {
        "id": prediction_id, "key_id": key_id, "account_id": "a" * 32, "price_micros": 7, "model": "m",
        "status": "created", "params": {"prompt": "caf\N{LATIN SMALL LETTER E WITH ACUTE}", "n": [1, 2.5, None]},
        "inputs": {}, "outputs": [], "has_nsfw_contents": [False], "error": None, "progress": 0, "attempts": 0,
        "worker_id": None, "lease_expires_at": None, "created_at": MOMENT, "started_at": None, "completed_at": None,
        "execution_ms": None, "inference_ms": None, "queue": "motion", "priority": 0, "max_run_seconds": 600,
        "deadline_at": None, "cancel_requested_at": None, "deleted_at": None, "outputs_expired_at": None,
        "webhook_url": "https://example.com/hook", "base_url": "http://127.0.0.1:8000", "posters": [],
        "engine_details": {"engine": "motion"},
    }


def test_rows_written_read_back_as_sqlalchemy_writes_them(database: Database) -> None:
    with database.write() as connection:
        driver_statements.write_many(connection, insert(Account), [account("a" * 32)])
        connection.execute(insert(Account), [account("b" * 32)])
        connection.exec_driver_sql(
            "INSERT INTO api_keys (id, name, account_id, role, in_flight, key_hash, key_prefix, created_at) "
            f"VALUES ('{'k' * 32}', 'k', '{'a' * 32}', 'user', 0, 'h', 'p', '2026-12-01 00:00:00')"
        )
        driver_statements.write_many(connection, insert(Prediction), [prediction("1" * 32, "k" * 32)])
        connection.execute(insert(Prediction), [prediction("2" * 32, "k" * 32)])
    with database.session() as session:
        first, second = (session.get(Prediction, pid) for pid in ("1" * 32, "2" * 32))
        assert first is not None and second is not None
        for column in Prediction.__table__.columns:
            if column.key != "id":
                assert getattr(first, column.key) == getattr(second, column.key), column.key
        assert first.created_at == MOMENT and first.params["prompt"].endswith("\N{LATIN SMALL LETTER E WITH ACUTE}")
        accounts = session.execute(select(Account.name, Account.balance_micros, Account.created_at)).all()
        assert accounts[0] == accounts[1] == ("n", 5, MOMENT)


def test_a_broken_constraint_is_sqlalchemys_error(database: Database) -> None:
    with database.write() as connection:
        driver_statements.write_many(connection, insert(Account), [account("c" * 32)])
    with pytest.raises(IntegrityError), database.write() as connection:
        driver_statements.write_many(connection, insert(Account), [account("c" * 32)])


def test_a_write_that_would_need_sqlalchemys_defaults_is_refused(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    database.migrate()
    try:
        with pytest.raises(TypeError, match="defaults"), database.write() as connection:
            driver_statements.write_many(connection, insert(Account), [{"id": "d" * 32, "name": "n"}])
    finally:
        database.dispose()
