"""Writes that may not wait (Database.write(wait=False)): they give way to another writer instead of waiting."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from reelserve.errors import WouldBlock
from reelserve.store.database import Database
from tests.support.databases import database_url


def add_account(database: Database, account_id: str, wait: bool = True) -> None:
    with database.write(wait=wait) as connection:
        connection.execute(
            text("INSERT INTO accounts (id, name, balance_micros, created_at) VALUES (:id, 'a', 0, :at)"),
            {"id": account_id, "at": "2026-11-25 00:00:00"},
        )


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
    with pytest.raises(WouldBlock):
        add_account(sqlite_database, "given-way", wait=False)
    release.set()
    holder.join()
    add_account(sqlite_database, "written", wait=False)
    assert account_ids(sqlite_database) == {"written"}, "the write that gave way left nothing behind"


def test_a_write_that_may_not_wait_gives_way_to_another_process(sqlite_database: Database, tmp_path: Path) -> None:
    other_process = sqlite3.connect(tmp_path / "writes.db", isolation_level=None, check_same_thread=False)
    other_process.execute("BEGIN IMMEDIATE")
    with pytest.raises(WouldBlock):
        add_account(sqlite_database, "given-way", wait=False)

    # The busy timeout is restored: a write that may wait waits for the other process, then succeeds.
    threading.Timer(0.3, other_process.rollback).start()
    add_account(sqlite_database, "waited")
    assert account_ids(sqlite_database) == {"waited"}
    other_process.close()


def test_postgresql_writes_always_may_wait(tmp_path: Path) -> None:
    with database_url("postgresql", tmp_path) as url:
        database = Database(url)
        database.migrate()
        try:
            with pytest.raises(WouldBlock):
                add_account(database, "never", wait=False)
            assert "never" not in account_ids(database)
        finally:
            database.dispose()
