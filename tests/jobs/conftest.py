"""The queue backends under the lifecycle's contract tests. A backend is (the JobQueue, how a worker of it is lost);
a new backend joins by adding itself to BACKENDS, and must pass test_queue_contract.py unchanged."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reelserve.jobs import admission
from reelserve.jobs.embedded import EmbeddedQueue
from reelserve.jobs.lifecycle import Lifecycle
from reelserve.jobs.procrastinate_queue import ProcrastinateQueue
from reelserve.jobs.queue import Consumer, JobHandler, JobQueue
from reelserve.jobs.transitions import read
from reelserve.service.keys import KeyInfo, KeyLimits, KeyService
from reelserve.store import accounts as account_store
from reelserve.store.database import Database
from tests.support.databases import database_url
from tests.support.lifecycle import start_and_lose

LEASE_SECONDS = 2.0
PRICE = 250_000


@dataclass(frozen=True)
class Backend:
    name: str
    database_kind: str
    build: Callable[[Database], JobQueue]
    start_and_lose: Callable[[Database, JobQueue], str | None]
    """Starts the next job on a worker that dies at once (as with kill -9); returns the job's id."""


BACKENDS = [
    # start_and_lose: a worker takes the next job its backend's own way and is killed: the embedded queue's lease
    # runs out; procrastinate's worker stops sending heartbeats (tests/support/lifecycle.py).
    Backend("embedded-sqlite", "sqlite", lambda db: EmbeddedQueue(db, LEASE_SECONDS, 0.1), start_and_lose),
    Backend("embedded-postgresql", "postgresql", lambda db: EmbeddedQueue(db, LEASE_SECONDS, 0.1), start_and_lose),
    Backend("procrastinate-postgresql", "postgresql", lambda db: ProcrastinateQueue(db, LEASE_SECONDS, 0.1),
            start_and_lose),
]


@dataclass
class Harness:
    database: Database
    queue: JobQueue
    lifecycle: Lifecycle
    key: KeyInfo
    backend: Backend
    consumers: list[Consumer] = field(default_factory=list)

    def admit(self, count: int = 1, queue: str = "q", max_run_seconds: int | None = None) -> list[str]:
        jobs = [
            admission.NewJobRow(
                id=secrets.token_hex(16), key_id=self.key.id, account_id=self.key.account_id, model="m",
                params={}, inputs={}, price_micros=PRICE, in_flight_limit=1000, queue=queue,
                max_run_seconds=max_run_seconds,
            )
            for _ in range(count)
        ]
        with self.database.write() as connection:
            outcomes = admission.admit(connection, self.queue, jobs)
        assert all(isinstance(outcome, dict) for outcome in outcomes), outcomes
        return [job.id for job in jobs]

    def start_and_lose(self) -> str | None:
        return self.backend.start_and_lose(self.database, self.queue)

    def consume(self, handler: JobHandler, queues: list[str] | None = None, concurrency: int = 1) -> Consumer:
        consumer = self.queue.consumer(handler, queues, concurrency, f"test-{secrets.token_hex(3)}")
        consumer.start()
        self.consumers.append(consumer)
        return consumer

    def row(self, prediction_id: str) -> Any:
        with self.database.write() as connection:
            return read(connection, prediction_id)

    def status(self, prediction_id: str) -> str:
        found = self.row(prediction_id)
        return "absent" if found is None else str(found.status)

    def wait_for(self, prediction_id: str, statuses: set[str], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while (status := self.status(prediction_id)) not in statuses:
            assert time.monotonic() < deadline, f"{prediction_id} still {status}, not {statuses}"
            time.sleep(0.05)
        return status

    def balance(self) -> int:
        with self.database.session() as session:
            account = account_store.get(session, self.key.account_id)
            assert account is not None
            assert account.balance_micros == account_store.ledger_sum(session, self.key.account_id), "ledger"
            return account.balance_micros

    def refunded(self, prediction_id: str) -> bool:
        with self.database.session() as session:
            return account_store.has_entry(session, prediction_id, "refund")


@pytest.fixture(params=BACKENDS, ids=lambda backend: backend.name)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    backend: Backend = request.param
    with database_url(backend.database_kind, tmp_path) as url:
        database = Database(url)
        database.migrate()
        queue = backend.build(database)
        lifecycle = Lifecycle(database, queue, LEASE_SECONDS, max_attempts=2)
        key = KeyService(database).create("contract", balance_usd="100", limits=KeyLimits(max_concurrency=1000)).info
        found = Harness(database, queue, lifecycle, key, backend)
        try:
            yield found
        finally:
            for consumer in found.consumers:
                consumer.stop(10)
            database.dispose()


class Recorder:
    """A handler that records what it was given and does what the test tells it to."""

    def __init__(self, act: Callable[[Any, Any], None]) -> None:
        self.act = act
        self.runs: list[str] = []
        self.lock = threading.Lock()
        self.started = threading.Event()

    def __call__(self, job: Any, token: Any) -> None:
        with self.lock:
            self.runs.append(job.id)
        self.started.set()
        self.act(job, token)
