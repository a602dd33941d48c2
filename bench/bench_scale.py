"""Scale-out: jobs per minute and dispatch latency of the queue backends, and how the API's cost grows with data.

1. Jobs per minute on the motion engine (3 s, 1:1 clips) with 1 and 2 `reelserve worker` processes on PostgreSQL
   (procrastinate), against the embedded default on SQLite (`reelserve serve --workers 1`), and the dispatch
   latency: a job's start (`started_at`) minus its admission (`created_at`) on an idle worker.
2. Poll p99, submit p99 and a history page p99 with 10,000 and 1,000,000 predictions in PostgreSQL (rows made
   with SQL, not the API), against the empty database; and the dispatch latency with 10,000 jobs waiting in
   another queue. Target: within 1.5x of the empty database at the largest size.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select, text

from common import (
    REELSERVE,
    SUBMIT_PATH,
    UNLIMITED_KEY_ENV,
    ReelserveServer,
    ServerProcess,
    Target,
    free_port,
    machine_description,
    markdown_table,
    percentile,
    print_targets,
    progress,
    sample_image,
    write_json,
)
from reelserve.jobs.procrastinate_queue import ProcrastinateQueue
from reelserve.jobs.queue import QueuedJob
from reelserve.store.database import Database
from reelserve.store.tables import Prediction

POSTGRES_URL = os.environ.get("REELSERVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GROWTH_TARGET = 1.5
JOB = {"prompt": "slowly zoom in", "duration": 3, "aspect_ratio": "1:1"}


@dataclass(frozen=True)
class Plan:
    jobs: int
    latency_samples: int
    sizes: tuple[int, ...]
    requests: int
    backlog: int


FULL = Plan(jobs=24, latency_samples=10, sizes=(0, 10_000, 1_000_000), requests=300, backlog=10_000)
QUICK = Plan(jobs=4, latency_samples=3, sizes=(0, 10_000), requests=40, backlog=2_000)


class Schema:
    """A fresh PostgreSQL schema, dropped at the end."""

    def __init__(self) -> None:
        self.name = "bench_" + secrets.token_hex(5)
        self.admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {self.name}"))
        self.url = f"{POSTGRES_URL}?options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {self.name} CASCADE"))
        self.admin.dispose()


class WorkerProcess(ServerProcess):
    def __init__(self, data_dir: Path, log_dir: Path, env: dict[str, str]) -> None:
        route = SUBMIT_PATH.removeprefix("/api/v3/")
        command = [str(REELSERVE), "worker", "--data-dir", str(data_dir), "--routes", route]
        super().__init__(f"worker-{secrets.token_hex(2)}", command, free_port(), log_dir, env)
        deadline = time.monotonic() + 90
        while "running (" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"reelserve worker did not start:\n{self.output()}")
            time.sleep(0.1)


def submit(client: httpx.Client, key: str, image: str) -> str:
    answer = client.post(SUBMIT_PATH, json={**JOB, "image": image}, headers={"Authorization": key})
    answer.raise_for_status()
    return answer.json()["data"]["id"]


def wait_ended(client: httpx.Client, key: str, ids: list[str], timeout: float = 900) -> None:
    pending = set(ids)
    deadline = time.monotonic() + timeout
    while pending:
        for prediction_id in list(pending):
            data = client.get(f"/api/v3/predictions/{prediction_id}/result", headers={"Authorization": key}).json()
            if data["data"]["status"] in ("completed", "failed"):
                pending.discard(prediction_id)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} jobs did not end")
        time.sleep(0.1)


def dispatch_ms(database: Database, prediction_id: str) -> float:
    with database.read() as session:
        row = session.execute(
            select(Prediction.created_at, Prediction.started_at).where(Prediction.id == prediction_id)
        ).one()
    created, started = row
    return (started - created).total_seconds() * 1000


def run_jobs(label: str, api: ReelserveServer, database: Database, plan: Plan, image: str) -> dict[str, Any]:
    with httpx.Client(base_url=api.base_url, timeout=60) as client:
        wait_ended(client, api.api_key, [submit(client, api.api_key, image)])  # warm-up, not counted
        latencies = []
        for _ in range(plan.latency_samples):
            one = submit(client, api.api_key, image)
            wait_ended(client, api.api_key, [one])
            latencies.append(dispatch_ms(database, one))
        started = time.monotonic()
        ids = [submit(client, api.api_key, image) for _ in range(plan.jobs)]
        wait_ended(client, api.api_key, ids)
        seconds = time.monotonic() - started
    row = {"setup": label, "jobs": plan.jobs, "seconds": round(seconds, 1),
           "jobs_per_minute": round(plan.jobs / seconds * 60, 1),
           "dispatch_p50_ms": round(statistics.median(latencies), 1), "dispatch_max_ms": round(max(latencies), 1)}
    progress(f"   {row}")
    return row


def postgres_setup(
    root: Path, workers: int, log_dir: Path
) -> tuple[Schema, ReelserveServer, list[WorkerProcess], Database]:
    schema = Schema()
    env = {**UNLIMITED_KEY_ENV, "REELSERVE_DATABASE_URL": schema.url,
           "REELSERVE_STORAGE_URL": f"file://{root / 'files'}", "REELSERVE_SECRET_KEY": "bench" * 8}
    api = ReelserveServer(root / "api", workers=0, log_dir=log_dir, env=env)
    running = [WorkerProcess(root / f"worker-{n}", log_dir, {**os.environ, **env}) for n in range(workers)]
    return schema, api, running, Database(schema.url)


def throughput(plan: Plan, log_dir: Path, image: str) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        progress("== embedded queue, SQLite, 1 in-process worker")
        api = ReelserveServer(root / "sqlite", workers=1, log_dir=log_dir)
        database = Database(f"sqlite:///{root / 'sqlite' / 'reelserve.db'}")
        try:
            rows.append(run_jobs("embedded, SQLite, 1 worker", api, database, plan, image))
        finally:
            api.stop()
            database.dispose()
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            progress(f"== procrastinate, PostgreSQL, {workers} reelserve worker(s)")
            schema, api, running, database = postgres_setup(Path(folder), workers, log_dir)
            try:
                rows.append(run_jobs(f"procrastinate, PostgreSQL, {workers} worker(s)", api, database, plan, image))
            finally:
                for process in [api, *running]:
                    process.stop()
                database.dispose()
                schema.drop()
    return rows


GENERATE = text(
    "INSERT INTO predictions (id, key_id, account_id, price_micros, model, status, params, inputs, outputs,"
    " has_nsfw_contents, progress, attempts, created_at, started_at, completed_at, queue, priority, posters)"
    " SELECT md5(:salt || n::text), :key, :account, 0, :model, 'completed', '{}', '{}', '[]', '[]', 100, 1,"
    " now() - make_interval(secs => n), now() - make_interval(secs => n), now() - make_interval(secs => n), '',"
    " 0, '[]' FROM generate_series(1, :count) AS n"
)


def vacuum(database: Database) -> None:
    """The steady state of a database that has held its rows a while: vacuumed and analysed, so that autovacuum
    does not run over the fresh rows while the requests are timed."""
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def timed(client: httpx.Client, method: str, path: str, count: int, **kwargs: Any) -> float:
    for _ in range(max(5, count // 5)):  # warm-up, not counted: connections, caches, the query plans
        client.request(method, path, **kwargs).raise_for_status()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        answer = client.request(method, path, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return percentile(times, 0.99)


def growth(plan: Plan, log_dir: Path, image: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        schema, api, _, database = postgres_setup(Path(folder), 0, log_dir)
        try:
            with database.read() as session:
                key_id, account_id = session.execute(text("SELECT id, account_id FROM api_keys LIMIT 1")).one()
            headers = {"Authorization": api.api_key}
            with httpx.Client(base_url=api.base_url, timeout=60, headers=headers) as client:
                polled = submit(client, api.api_key, image)
                present = 0
                for size in plan.sizes:
                    if size > present:
                        progress(f"== {size:,} predictions: generating {size - present:,} rows with SQL")
                        with database.write() as connection:
                            connection.execute(GENERATE, {"salt": str(size), "key": key_id, "account": account_id,
                                                          "model": SUBMIT_PATH.removeprefix("/api/v3/"),
                                                          "count": size - present})
                        vacuum(database)
                        present = size
                    row = {
                        "predictions": size,
                        "poll_p99_ms": round(timed(client, "GET", f"/api/v3/predictions/{polled}/result",
                                                   plan.requests), 2),
                        "submit_p99_ms": round(timed(client, "POST", SUBMIT_PATH, plan.requests // 3,
                                                     json={**JOB, "image": image}), 2),
                        "history_p99_ms": round(timed(client, "GET", "/api/v3/predictions?page=1&page_size=20",
                                                      plan.requests // 3), 2),
                        "history_page_50_p99_ms": round(
                            timed(client, "GET", "/api/v3/predictions?page=50&page_size=20", plan.requests // 3), 2
                        ),
                    }
                    progress(f"   {row}")
                    rows.append(row)
        finally:
            api.stop()
            database.dispose()
            schema.drop()
    with tempfile.TemporaryDirectory() as folder:
        progress(f"== dispatch latency with {plan.backlog:,} jobs waiting in another queue")
        schema, api, running, database = postgres_setup(Path(folder), 1, log_dir)
        try:
            with database.read() as session:
                key_id, account_id = session.execute(text("SELECT id, account_id FROM api_keys LIMIT 1")).one()
            queue = ProcrastinateQueue(database, 30, 1)
            with database.write() as connection:
                connection.execute(GENERATE, {"salt": "w", "key": key_id, "account": account_id, "model": "backlog",
                                              "count": plan.backlog})
                connection.exec_driver_sql("UPDATE predictions SET status = 'created' WHERE model = 'backlog'")
                ids = connection.exec_driver_sql("SELECT id FROM predictions WHERE model = 'backlog'").scalars().all()
                queue.enqueue(connection, [QueuedJob(prediction_id, "backlog") for prediction_id in ids])
            vacuum(database)
            backlog = run_jobs(f"procrastinate, {plan.backlog:,} jobs waiting", api, database,
                               Plan(0, plan.latency_samples, (), 0, 0), image)
        finally:
            for process in [api, *running]:
                process.stop()
            database.dispose()
            schema.drop()
    return rows, backlog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few jobs and 10,000 rows: checks the script runs")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    image = base64.b64encode(sample_image(640, 640)).decode()
    with tempfile.TemporaryDirectory() as logs:
        log_dir = Path(logs)
        jobs = throughput(plan, log_dir, image)
        sizes, backlog = growth(plan, log_dir, image)
    print("## Scale-out: queues and data growth\n")
    print(markdown_table(["setup", "jobs", "seconds", "jobs/min", "dispatch p50 ms", "dispatch max ms"],
                         [[r["setup"], r["jobs"], r["seconds"], r["jobs_per_minute"], r["dispatch_p50_ms"],
                           r["dispatch_max_ms"]] for r in [*jobs, backlog]]))
    print()
    print(markdown_table(["predictions", "poll p99 ms", "submit p99 ms", "history p1 p99 ms", "history p50 p99 ms"],
                         [[f"{r['predictions']:,}", r["poll_p99_ms"], r["submit_p99_ms"], r["history_p99_ms"],
                           r["history_page_50_p99_ms"]] for r in sizes]))
    print()
    empty, largest = sizes[0], sizes[-1]
    targets = [
        Target(f"{name} at {largest['predictions']:,} predictions vs empty", f"{largest[field] / empty[field]:.2f}x",
               f"<= {GROWTH_TARGET}x", largest[field] / empty[field] <= GROWTH_TARGET)
        for name, field in (("poll p99", "poll_p99_ms"), ("submit p99", "submit_p99_ms"),
                            ("history page p99", "history_p99_ms"))
    ]
    empty_dispatch = next(r for r in jobs if r["setup"].startswith("procrastinate, PostgreSQL, 1"))
    ratio = backlog["dispatch_p50_ms"] / empty_dispatch["dispatch_p50_ms"]
    targets.append(Target(f"dispatch p50 with {plan.backlog:,} jobs waiting vs none", f"{ratio:.2f}x",
                          f"<= {GROWTH_TARGET}x", ratio <= GROWTH_TARGET))
    print_targets(targets, args.quick)
    write_json(args.json, {"machine": machine_description(), "jobs": jobs, "sizes": sizes, "backlog": backlog,
                           "targets": [t.__dict__ for t in targets], "quick": args.quick})


if __name__ == "__main__":
    main()
