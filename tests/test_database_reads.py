"""Statement reads (Database.statement_read), the polling path's reads: fresh, read-only, and cheap to reuse."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.exc import OperationalError

from reelserve.store import predictions as predictions_store
from reelserve.store import uploads as uploads_store
from reelserve.store.database import Database
from reelserve.store.tables import Account
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.databases import database_url
from tests.support.images import image_bytes


def account_count(database: Database) -> int:
    with database.statement_read() as connection:
        return int(connection.execute(text("SELECT count(*) FROM accounts")).scalar_one())


def add_account(database: Database, account_id: str) -> None:
    with database.write() as connection:
        connection.execute(
            text("INSERT INTO accounts (id, name, balance_micros, created_at) VALUES (:id, 'a', 0, :at)"),
            {"id": account_id, "at": "2026-11-25 00:00:00"},
        )


def test_each_read_sees_the_latest_commit(database: Database) -> None:
    before = account_count(database)
    add_account(database, "a" * 32)
    assert account_count(database) == before + 1
    committed_elsewhere = threading.Thread(target=add_account, args=(database, "b" * 32))
    committed_elsewhere.start()
    committed_elsewhere.join()
    assert account_count(database) == before + 2


def test_sqlite_keeps_one_read_only_connection_per_thread(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'reads.db'}")
    database.migrate()
    try:
        assert database.is_local
        with database.statement_read() as first, database.statement_read() as again:
            assert first is again
        seen: list[object] = []

        def read_in_a_thread() -> None:
            with database.statement_read() as connection:
                seen.append(connection)

        worker = threading.Thread(target=read_in_a_thread)
        worker.start()
        worker.join()
        assert seen and seen[0] is not first
        with pytest.raises(OperationalError, match="readonly"), database.statement_read() as connection:
            connection.execute(text("DELETE FROM accounts"))
        with database.statement_read() as after_failure:
            assert after_failure is not first
        assert account_count(database) == 0
    finally:
        database.dispose()


def test_postgresql_reads_are_not_run_on_the_event_loop(tmp_path: Path) -> None:
    with database_url("postgresql", tmp_path) as url:
        database = Database(url)
        try:
            assert not database.is_local
        finally:
            database.dispose()


def test_compiled_reads_give_what_sqlalchemy_gives(start_sqlite_server: ServerFactory) -> None:
    """Every column of a prediction and of an upload, converted by its type (JSON, UTC datetimes)."""
    server = start_sqlite_server(workers=0)
    image = base64.b64encode(image_bytes(320, 320)).decode()
    body = {"prompt": "zoom in, caf\N{LATIN SMALL LETTER E WITH ACUTE}", "image": image, "duration": 3, "seed": 7}
    prediction_id = server.submit(SEED_ROUTE, body).json()["data"]["id"]
    upload = server.client.post("/api/v3/media/upload/binary", files={"file": ("a.png", image_bytes(320, 320))})
    upload_id = upload.json()["data"]["download_url"].split("/uploads/")[1].split("/")[0]
    database = server.runtime.database
    key_id = server.runtime.keys.authenticate(server.key).id
    for statement, values in (
        (predictions_store._OWNED_ROW, {"prediction_id": prediction_id, "key_id": key_id}),
        (uploads_store._OWNER_AND_STATUS, {"upload_id": upload_id}),
    ):
        compiled = database.read_one(statement, values)
        with database.statement_read() as connection:
            through_sqlalchemy = connection.execute(statement, values).one()
        assert compiled is not None
        assert compiled._asdict() == through_sqlalchemy._asdict()
        assert database.read_one(statement, {name: "0" * 32 for name in values}) is None
    row = predictions_store.owned_row(database, prediction_id, key_id)
    assert row.created_at.tzinfo is not None and row.params["seed"] == 7 and row.outputs == []


def test_compiled_reads_convert_parameters_as_sqlalchemy_does(tmp_path: Path) -> None:
    """A UTC datetime parameter is written as SQLAlchemy writes the column, so comparisons read the same."""
    database = Database(f"sqlite:///{tmp_path / 'reads.db'}")
    database.migrate()
    try:
        with database.write() as connection:
            connection.exec_driver_sql(
                "INSERT INTO accounts (id, name, balance_micros, created_at) "
                "VALUES ('early', 'a', 0, '2026-01-01 00:00:00.000000'), ('late', 'b', 0, '2026-06-01 00:00:00.000000')"
            )
        later = select(func.count().label("n")).where(Account.created_at > bindparam("since"), Account.name != "x")
        found = database.read_one(later, {"since": datetime(2026, 3, 1, tzinfo=UTC)})
        assert found is not None and found.n == 1
        with database.statement_read() as connection:
            assert connection.execute(later, {"since": datetime(2026, 3, 1, tzinfo=UTC)}).scalar_one() == 1
    finally:
        database.dispose()
