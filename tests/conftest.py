from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reelserve.config import Settings
from reelserve.store.database import Database
from tests.support.databases import database_url
from tests.support.http_files import FileServer
from tests.support.images import image_bytes
from tests.support.object_store import S3Server, start_s3_server
from tests.support.server import RunningServer, ServerThread

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SEED_ROUTE = "kwaivgi/kling-v2.5-turbo-std/image-to-video"


@pytest.fixture(scope="session")
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def image_url(file_server: FileServer) -> str:
    return file_server.add("/resource/cat.png", image_bytes(1024, 768))


ServerFactory = Callable[..., RunningServer]


def _server_factory(tmp_path: Path, backend: str) -> Iterator[ServerFactory]:
    started: list[ServerThread] = []
    with database_url(backend, tmp_path) as url:

        def start(**overrides: Any) -> RunningServer:
            values: dict[str, Any] = {
                "data_dir": tmp_path / "data",
                "database_url": url,
                "allow_private_urls": True,
                "workers": 1,
                "job_lease_seconds": 3.0,
                "worker_poll_seconds": 0.2,
            }
            values.update(overrides)
            thread = ServerThread(Settings(**values))
            started.append(thread)
            return thread.start()

        try:
            yield start
        finally:
            for thread in started:
                thread.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database on SQLite and, in a second run of the test, on PostgreSQL."""
    with database_url(request.param, tmp_path) as url:
        found = Database(url)
        found.migrate()
        try:
            yield found
        finally:
            found.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def start_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerFactory]:
    """Starts servers on SQLite and, in a second run of the test, on PostgreSQL."""
    yield from _server_factory(tmp_path, request.param)


@pytest.fixture
def start_sqlite_server(tmp_path: Path) -> Iterator[ServerFactory]:
    yield from _server_factory(tmp_path, "sqlite")


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server without workers for tests that only look at the API's answers."""
    factory = _server_factory(tmp_path_factory.mktemp("api"), "sqlite")
    start = next(factory)
    yield start(workers=0)
    factory.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on loopback for the whole session; the tests that need it fail, saying why, without it."""
    try:
        server = start_s3_server()
    except RuntimeError as exc:
        pytest.fail(f"an S3-compatible server is needed for this test: {exc}", pytrace=False)
    yield server
    server.close()
