"""The server's operations side wired to its parts: readiness checks the database, the storage and the workers of
every queue the catalog sends jobs to; /metrics reads those queues from the database at each scrape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reelserve.catalog.bindings import RouteEngines
from reelserve.config import Settings
from reelserve.observe.collectors import QueueCollector, QueueRow, pairs_of
from reelserve.observe.operations import Observability
from reelserve.observe.readiness import InProcessWorkers, Readiness, ServedQueues, StoredProbe
from reelserve.service.workers import ALL_QUEUES, WorkerDirectory
from reelserve.store import queue_depth
from reelserve.store.database import Database


def routes_by_queue(engines: RouteEngines, extra: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Every queue a route's engine bindings send jobs to, with those routes; `extra` adds other queues (voices)."""
    found: dict[str, list[str]] = {}
    for entry in engines.entries():
        for binding in entry.bindings:
            routes = found.setdefault(binding.queue, [])
            if entry.route.id not in routes:
                routes.append(entry.route.id)
    for queue, routes in extra.items():
        found.setdefault(queue, []).extend(route for route in routes if route not in found[queue])
    return found


class HeartbeatWorkers:
    """Worker processes anywhere (`reelserve worker`), as their heartbeats in the workers table say."""

    def __init__(self, directory: WorkerDirectory) -> None:
        self.directory = directory

    def serving(self) -> ServedQueues:
        queues = self.directory.live_queues()
        return ServedQueues(every_queue=ALL_QUEUES in queues, queues=queues - {ALL_QUEUES})


def build_observability(
    settings: Settings, database: Database, storage: Any, engines: RouteEngines, consumer: Any,
    extra_queues: Mapping[str, Sequence[str]], workers: WorkerDirectory | None = None,
) -> Observability:
    queues = routes_by_queue(engines, extra_queues)
    sources: list[Any] = [InProcessWorkers(consumer)] if consumer is not None else []
    if workers is not None:
        sources.append(HeartbeatWorkers(workers))
    readiness = Readiness(
        {"database": database.ping, "storage": StoredProbe(storage)}, queues, sources,
        settings.readiness_timeout_seconds,
    )

    def stats() -> list[QueueRow]:
        return [QueueRow(row.queue, row.model, row.status, row.jobs, row.oldest)
                for row in queue_depth.in_flight(database, list(queues))]

    return Observability(settings, readiness, [QueueCollector(stats, pairs_of(queues))])
