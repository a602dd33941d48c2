"""Writes that may not wait (Database.write_if_free): where another writer holds the database they are not
started at all, instead of waiting."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from reelserve.store.database import Database
from tests.support.databases import database_url

ADD_ACCOUNT = text("INSERT INTO accounts (id, name, balance_micros, created_at) VALUES (:id, 'a', 0, :at)")


def add_account_if_free(database: Database, account_id: str) -> bool:
    with database.write_if_free() as connection:
        if connection is None:
            return False
        connection.execute(ADD_ACCOUNT, {"id": account_id, "at": "2026-11-25 00:00:00"})
        return True


def account_ids(database: Database) -> set[str]:
    with database.statement_read() as connection:
        return set(connection.execute(text("SELECT id FROM accounts")).scalars())


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'writes.db'}")
    database.migrate()
    yield database
    database.dispose()


def test_a_write_that_may_not_wait_gives_way_to_another_thread(sqlite_database: Database) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with sqlite_database.write():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert holding.wait(30)
    assert not add_account_if_free(sqlite_database, "given-way")
    release.set()
    holder.join()
    assert add_account_if_free(sqlite_database, "written")
    assert account_ids(sqlite_database) == {"written"}, "the write that gave way left nothing behind"


def test_a_write_that_may_not_wait_gives_way_to_another_process(sqlite_database: Database, tmp_path: Path) -> None:
    other_process = sqlite3.connect(tmp_path / "writes.db", isolation_level=None, check_same_thread=False)
    other_process.execute("BEGIN IMMEDIATE")
    assert not add_account_if_free(sqlite_database, "given-way")

    # The busy timeout is restored: a write that may wait waits for the other process, then succeeds.
    threading.Timer(0.3, other_process.rollback).start()
    with sqlite_database.write() as connection:
        connection.execute(ADD_ACCOUNT, {"id": "waited", "at": "2026-11-25 00:00:00"})
    assert account_ids(sqlite_database) == {"waited"}
    other_process.close()


def test_postgresql_writes_are_never_started_on_the_event_loop(tmp_path: Path) -> None:
    with database_url("postgresql", tmp_path) as url:
        database = Database(url)
        database.migrate()
        try:
            assert not add_account_if_free(database, "never")
            assert "never" not in account_ids(database)
        finally:
            database.dispose()
