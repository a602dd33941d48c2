"""/readyz: 200 when the database answers, the storage takes a file and every queue the catalog sends jobs to has a
worker; 503 naming what is missing when the database stops answering (a PostgreSQL database of the test's own,
closed to connections; the machine's server keeps running), the storage breaks, or no worker serves a queue."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from reelserve.catalog.routes import VOICE_MODEL_ID
from reelserve.observe.readiness import Readiness, ServedQueues
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.databases import POSTGRES_URL


def test_ready_with_a_worker_and_not_without(start_server: ServerFactory) -> None:
    api_only = start_server(workers=0)
    answer = api_only.client.get("/readyz")
    assert answer.status_code == 503
    report = answer.json()
    assert report["status"] == "not_ready"
    assert report["checks"]["database"] == "ok" and report["checks"]["storage"] == "ok"
    motion_queue = api_only.runtime.engines.binding(SEED_ROUTE).queue
    lacking = " | ".join(report["missing"])
    assert f"a worker for queue {motion_queue!r}" in lacking and SEED_ROUTE in lacking
    assert "a worker for queue 'voices'" in lacking and VOICE_MODEL_ID in lacking
    assert "/readyz" not in api_only.client.get("/openapi.json").json()["paths"]

    working = start_server(workers=1)
    ready = working.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok", "workers": "ok"},
                            "missing": []}
    # The API-only server sees the other one's workers through their heartbeats in the shared database.
    assert api_only.client.get("/readyz").status_code == 200


class HeartbeatsSeen:
    """A source of worker liveness as worker processes' heartbeats will give it: the queues they serve now."""

    def __init__(self, queues: set[str]) -> None:
        self.queues = queues

    def serving(self) -> ServedQueues:
        return ServedQueues(queues=frozenset(self.queues))


def test_workers_elsewhere_count_once_their_source_says_so(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=0)
    readiness = server.runtime.observability.readiness
    some = HeartbeatsSeen({server.runtime.engines.binding(SEED_ROUTE).queue})
    readiness.add_worker_source(some)
    still = server.client.get("/readyz").json()
    assert all("voices" in item or SEED_ROUTE not in item for item in still["missing"]), still
    assert any("voices" in item for item in still["missing"])
    some.queues = set(readiness.routes_by_queue)
    assert server.client.get("/readyz").status_code == 200


def test_not_ready_when_the_storage_breaks(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=1)
    scratch = server.runtime.storage.root / ".scratch"
    moved = scratch.with_name(".scratch-away")
    assert server.client.get("/readyz").status_code == 200
    scratch.rename(moved)
    scratch.write_text("not a folder: the disk under the storage is broken")
    try:
        answer = server.client.get("/readyz")
        assert answer.status_code == 503
        report = answer.json()
        assert report["checks"]["storage"] != "ok" and report["checks"]["database"] == "ok"
        assert [item for item in report["missing"] if item.startswith("storage: ")], report
    finally:
        scratch.unlink()
        moved.rename(scratch)
    assert server.client.get("/readyz").status_code == 200


@pytest.fixture
def own_postgres_database() -> Iterator[str]:
    """A database of this test's own on the machine's PostgreSQL, which the test may close to connections."""
    name = "readyz_" + secrets.token_hex(5)
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as exc:
        pytest.fail(f"PostgreSQL is needed for this test and is not reachable at {POSTGRES_URL}: {exc}", pytrace=False)
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def close_database(name: str, allow: bool) -> None:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'true' if allow else 'false'}"))
        if not allow:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )
    admin.dispose()


def test_not_ready_while_the_database_is_stopped(
    own_postgres_database: str, start_sqlite_server: ServerFactory
) -> None:
    server = start_sqlite_server(workers=1, database_url=own_postgres_database, readiness_timeout_seconds=10)
    name = make_url(own_postgres_database).database
    assert name is not None
    assert server.client.get("/readyz").status_code == 200
    close_database(name, allow=False)
    try:
        answer = server.client.get("/readyz")
        assert answer.status_code == 503, answer.text
        report = answer.json()
        assert report["checks"]["database"] != "ok" and report["checks"]["storage"] == "ok"
        assert report["missing"][0].startswith("database: ")
    finally:
        close_database(name, allow=True)
    deadline = time.monotonic() + 30
    while server.client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "ready again once the database answers"
        time.sleep(0.2)


def test_a_check_that_hangs_is_reported_and_not_started_twice() -> None:
    release = threading.Event()
    started = []

    def hanging() -> None:
        started.append(time.monotonic())
        release.wait(30)

    readiness = Readiness({"database": hanging, "storage": lambda: None}, {}, timeout_seconds=0.3)
    try:
        for _ in range(3):
            report = readiness.report()
            assert not report.ready
            assert report.checks == {"database": "no answer within 0.3 s", "storage": "ok", "workers": "ok"}
            assert report.missing == ["database: no answer within 0.3 s"]
        assert len(started) == 1, "the hung check is waited on again, not piled up"
        release.set()
        time.sleep(0.1)
        assert readiness.report().ready
        assert len(started) == 2
    finally:
        release.set()
        readiness.close()


def test_storage_probe_leaves_nothing_behind(start_sqlite_server: ServerFactory) -> None:
    server = start_sqlite_server(workers=1)
    for _ in range(3):
        assert server.client.get("/readyz").status_code == 200
    probes = server.runtime.storage.root / "readiness"
    assert not probes.exists() or not any(probes.iterdir())
