"""Connecting to the database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Select, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool

from reelserve.store import driver_statements

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PING = "SELECT version_num FROM alembic_version"
READ_ONLY = "reelserve_read_only"
NO_WAIT = "reelserve_no_wait"
BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK = 0x7265656C  # any constant: PostgreSQL's advisory lock that migrations take one at a time
# Threads that may hold a SQLite connection at once: the event loop, anyio's 40, workers, maintenance.
SQLITE_THREADS = 64


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = _create_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._statement_reads = _create_statement_read_engine(url) if self.is_sqlite else self.engine
        self._sqlite_writer = threading.RLock()
        self._reader_of_thread = threading.local()
        self._readers: list[Connection] = []
        self._readers_lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._one_writer(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A Core connection in one transaction; what `after_commit` registered on it runs once it commits."""
        with self._one_writer(), self.engine.connect() as connection:
            with connection.begin():
                yield connection
            _run_after_commit(connection)

    @contextmanager
    def write_if_free(self) -> Iterator[Connection | None]:
        """SQLite's write transaction at once, or None where another writer (a thread here, or another process)
        holds the database; None on PostgreSQL, whose writes wait on the network. For work on the event loop,
        which must never wait for a lock."""
        if not self.is_sqlite or not self._sqlite_writer.acquire(blocking=False):
            yield None
            return
        try:
            with self.engine.connect() as connection:
                connection.execution_options(**{NO_WAIT: True})
                try:
                    transaction = connection.begin()
                except _WriterBusy:
                    yield None
                    return
                with transaction:
                    yield connection
                _run_after_commit(connection)
        finally:
            self._sqlite_writer.release()

    @contextmanager
    def _one_writer(self) -> Iterator[None]:
        # SQLite lets one writer in at a time; threads of this process queue here, in order, rather than
        # in SQLite's busy handler, which sleeps in growing steps and lets late arrivals pass early ones.
        if not self.is_sqlite:
            yield
            return
        with self._sqlite_writer:
            yield

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it does not take the write lock."""
        with (
            self.engine.connect().execution_options(**{READ_ONLY: True}) as connection,
            Session(bind=connection, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def statement_read(self) -> Iterator[Connection]:
        """A connection for reads of one statement each, outside any transaction: each sees the latest commit.

        On SQLite every thread keeps one read-only connection of its own, so a read costs no pool checkout,
        no BEGIN and no lock, and is quick enough to run on the event loop (`is_local`).
        """
        if not self.is_sqlite:
            with self.engine.connect() as connection:
                yield connection
            return
        connection = getattr(self._reader_of_thread, "connection", None)
        if connection is None:
            connection = self._reader_of_thread.connection = self._statement_reads.connect()
            with self._readers_lock:
                self._readers.append(connection)
        try:
            yield connection
        except BaseException:
            self._reader_of_thread.connection = None
            connection.invalidate()
            raise

    def read_one(self, statement: Select[Any], values: Mapping[str, Any]) -> Any | None:
        """The one row a prebuilt SELECT finds, or None, as a statement read (see driver_statements)."""
        with self.statement_read() as connection:
            return driver_statements.read_one(connection, statement, values)

    @property
    def is_local(self) -> bool:
        """Whether reads are a file away (SQLite) rather than a network round trip away."""
        return self.is_sqlite

    def migrate(self, revision: str = "head") -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # SQLite rebuilds altered tables; the pragma is only honoured outside a transaction.
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    if not sqlite:
                        # Processes started together (API servers, workers) migrate one after another.
                        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                    if sqlite:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise RuntimeError(f"migration left broken foreign keys: {broken}")
            finally:
                if sqlite:
                    connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")

    def ping(self) -> None:
        """Raises if the database cannot be read. A read of the schema as a statement read: it takes no write
        lock (SQLite), so another writer holding the database never delays it."""
        with self.statement_read() as connection:
            connection.exec_driver_sql(_PING).all()

    def dispose(self) -> None:
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for connection in readers:
            connection.close()
        self._reader_of_thread = threading.local()
        self.engine.dispose()
        self._statement_reads.dispose()


def after_commit(connection: Connection, callback: Callable[[], None]) -> None:
    """Runs `callback` once the transaction open on `connection` (from Database.write) commits; never if it fails."""
    connection.info.setdefault("after_commit", []).append(callback)


def _run_after_commit(connection: Connection) -> None:
    for callback in connection.info.pop("after_commit", []):
        callback()


class _WriterBusy(Exception):
    """Another process holds SQLite's write lock."""


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON columns through orjson: a poll decodes four of them and a submit encodes four.
_JSON = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, pool_size=SQLITE_THREADS, max_overflow=0, connect_args={"check_same_thread": False, "timeout": 30},
            **_JSON,
        )
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **_JSON)


def _create_statement_read_engine(url: str) -> Engine:
    engine = create_engine(
        url, poolclass=SingletonThreadPool, pool_size=SQLITE_THREADS, isolation_level="AUTOCOMMIT",
        connect_args={"check_same_thread": False, "timeout": 30}, **_JSON,
    )
    event.listen(engine, "connect", _tune_sqlite_reader)
    return engine


def _tune_sqlite_reader(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _tune_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # The driver's own transaction handling is switched off so that `_begin_immediate` decides.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # Writers take the lock at BEGIN, so concurrent read-then-write transactions wait instead of failing;
    # readers (Database.read) share the database under WAL.
    options = connection.get_execution_options()
    if options.get(READ_ONLY, False):
        connection.exec_driver_sql("BEGIN")
    elif options.get(NO_WAIT, False):
        _begin_immediate_or_give_way(connection.connection.dbapi_connection)
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_immediate_or_give_way(dbapi_connection: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE without SQLite's busy handler: _WriterBusy where another process holds the write lock."""
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        dbapi_connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            raise _WriterBusy() from None
        raise
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
