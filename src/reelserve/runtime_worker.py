"""Assembles a `reelserve worker`: a process that runs jobs and serves no API. It starts the engines of its routes
once, takes jobs only from their queues, reports itself in the workers table, keeps the lifecycle's watch (cancels,
deadlines; with procrastinate, the recovery of lost workers' jobs) and delivers webhooks of the jobs that end here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reelserve.catalog.bindings import RouteEngines, load_route_engines
from reelserve.catalog.route_tables import ConfigError
from reelserve.catalog.routes import VOICE_MODEL_ID
from reelserve.config import Settings
from reelserve.engines.registry import EngineContext
from reelserve.jobs.queue import Consumer
from reelserve.runtime import (
    VOICE_QUEUE,
    build_content_policy,
    build_lifecycle,
    build_queue,
    fetch_policy,
    job_watch_tasks,
    job_worker,
    open_database,
    open_file_store,
    webhook_sender,
)
from reelserve.service.maintenance import PeriodicTasks, Task
from reelserve.service.webhooks import WebhookSender
from reelserve.service.workers import WorkerReport
from reelserve.storage.base import Storage
from reelserve.store.database import Database


@dataclass
class WorkerRuntime:
    settings: Settings
    database: Database
    storage: Storage
    engines: RouteEngines
    queues: list[str] | None
    """The queues served; None: every queue."""
    consumer: Consumer
    report: WorkerReport
    webhooks: WebhookSender
    maintenance: PeriodicTasks

    def start(self) -> None:
        self.storage.remove_abandoned_scratch()
        self.engines.start()
        self.consumer.start()
        self.report.start()
        self.webhooks.start()
        self.maintenance.start()

    def stop(self) -> None:
        """Running jobs go back to the queue at once (their engines are told to stop), then everything closes."""
        self.consumer.stop(timeout=30.0)
        self.report.stop()
        self.webhooks.stop()
        self.maintenance.stop()
        self.engines.close()
        self.database.dispose()
        self.storage.close()


def build_worker_runtime(settings: Settings, routes: list[str] | None, concurrency: int) -> WorkerRuntime:
    """`routes`: the routes whose jobs this worker runs (their queues whole); None: every route and voice jobs."""
    database = open_database(settings)
    storage, links = open_file_store(settings)
    policy = fetch_policy(settings)
    catalog = load_route_engines(settings.config, EngineContext(base_dir=Path.cwd(), fetch_policy=policy))
    queues = served_queues(catalog, routes)
    engines = catalog if queues is None else catalog.serving(queues)
    queue = build_queue(settings, database)
    lifecycle = build_lifecycle(settings, database, queue)
    webhooks = webhook_sender(settings, database, links, policy)
    lifecycle.on_ended(webhooks.wake)
    consumer, report = job_worker(
        settings, database, storage, engines, queue, lifecycle, build_content_policy(settings), queues, concurrency
    )
    maintenance = PeriodicTasks([
        *job_watch_tasks(settings, lifecycle, queue),
        Task("remove scratch files of killed processes", settings.maintenance_interval_seconds,
             storage.remove_abandoned_scratch),
    ])
    return WorkerRuntime(settings, database, storage, engines, queues, consumer, report, webhooks, maintenance)


def served_queues(catalog: RouteEngines, routes: list[str] | None) -> list[str] | None:
    if routes is None:
        return None
    unknown = [route for route in routes if route != VOICE_MODEL_ID and catalog.route(route) is None]
    if unknown:
        known = ", ".join(route.id for route in catalog.routes())
        raise ConfigError(f"--routes: no route {', '.join(unknown)} in the catalog (routes: {known})")
    engine_routes = [route for route in routes if route != VOICE_MODEL_ID]
    return catalog.queues(engine_routes) + ([VOICE_QUEUE] if VOICE_MODEL_ID in routes else [])
