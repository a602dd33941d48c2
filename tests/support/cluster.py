"""The scale-out shape in processes, as an operator runs it: API servers (`reelserve serve --workers 0`) and
`reelserve worker`s on one PostgreSQL schema, files in one S3 bucket (moto's server), rate limits in Redis."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reelserve.service.keys import KeyLimits, KeyService
from reelserve.store import accounts as account_store
from reelserve.store.database import Database
from tests.support.databases import database_url
from tests.support.object_store import S3Server
from tests.support.process import REELSERVE, ServerProcess, free_port

REDIS = ("127.0.0.1", 6379)


def require_redis() -> str:
    try:
        with socket.create_connection(REDIS, timeout=2):
            pass
    except OSError as exc:
        pytest.fail(f"Redis is needed for shared rate limits and is not reachable at {REDIS[0]}:{REDIS[1]}: {exc}",
                    pytrace=False)
    return f"redis://{REDIS[0]}:{REDIS[1]}"


class WorkerProcess:
    """`reelserve worker` in a child process; ready once it says which worker it is."""

    def __init__(self, data_dir: Path, env: dict[str, str], routes: list[str] | None, concurrency: int = 1) -> None:
        self.log_path = data_dir.parent / f"worker-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        command = [REELSERVE, "worker", "--data-dir", str(data_dir), "--concurrency", str(concurrency)]
        if routes:
            command += ["--routes", ",".join(routes)]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self.name = self._wait_ready()

    def _wait_ready(self, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"reelserve worker exited early:\n{self.output()}")
            found = re.search(r"^reelserve worker (\S+) running", self.output(), re.MULTILINE)
            if found:
                return found.group(1)
            time.sleep(0.1)
        raise RuntimeError(f"reelserve worker did not start in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@dataclass
class Cluster:
    root: Path
    database: Database
    s3: S3Server
    bucket: str
    env: dict[str, str]
    admin_key: str = ""
    processes: list[Any] = field(default_factory=list)

    def api(self) -> ServerProcess:
        data_dir = self.root / f"api-{secrets.token_hex(3)}"
        server = ServerProcess(data_dir, free_port(), env=self.env, workers=0)
        self.processes.append(server)
        return server

    def worker(self, routes: list[str] | None = None, concurrency: int = 1) -> WorkerProcess:
        data_dir = self.root / f"worker-{secrets.token_hex(3)}"
        worker = WorkerProcess(data_dir, {**os.environ, **self.env}, routes, concurrency)
        self.processes.append(worker)
        return worker

    def customer(self, balance_usd: str = "100") -> tuple[str, str]:
        created = KeyService(self.database).create(
            "customer", balance_usd=balance_usd, limits=KeyLimits(rpm=100_000, max_concurrency=1_000)
        )
        return created.secret, created.info.account_id

    def balance_matches_ledger(self, account_id: str) -> int:
        with self.database.session() as session:
            account = account_store.get(session, account_id)
            assert account is not None
            assert account.balance_micros == account_store.ledger_sum(session, account_id), "balance != ledger"
            return account.balance_micros

    def workers_seen(self, api: ServerProcess) -> list[dict[str, Any]]:
        answer = httpx.get(f"{api.base_url}/admin/workers", headers={"Authorization": self.admin_key}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]


@contextmanager
def cluster(root: Path, s3: S3Server, config: Path | None = None) -> Iterator[Cluster]:
    redis_url = require_redis()
    bucket = s3.new_bucket()
    with database_url("postgresql", root) as url:
        database = Database(url)
        database.migrate()
        env = {
            **s3.env(bucket),
            "REELSERVE_DATABASE_URL": url,
            "REELSERVE_SECRET_KEY": secrets.token_hex(32),
            "REELSERVE_RATE_LIMIT_STORAGE": redis_url,
            "REELSERVE_ALLOW_PRIVATE_URLS": "true",
            "REELSERVE_JOB_LEASE_SECONDS": "3",
            "REELSERVE_WORKER_HEARTBEAT_SECONDS": "1",
            "REELSERVE_WEBHOOK_RETRY_SCALE": "0.05",
            "HF_HUB_OFFLINE": "1",
        }
        if config is not None:
            env["REELSERVE_CONFIG"] = str(config)
        found = Cluster(root, database, s3, bucket, env)
        found.admin_key = KeyService(database).create("admin", role="admin").secret
        try:
            yield found
        finally:
            for process in reversed(found.processes):
                process.stop()
            database.dispose()
