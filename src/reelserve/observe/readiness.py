"""Readiness: whether this server can do its work now. The database answers, the storage takes a file, and for
every queue a route of the catalog sends jobs to, a live worker takes them.

Where workers come from is pluggable: a `WorkerSource` says which queues it serves now. The in-process consumer
is one (`InProcessWorkers`); worker processes elsewhere are another, read from their heartbeats, added with
`Readiness.add_worker_source` by whatever keeps those heartbeats.

Each check runs in a thread of its own and counts as failed when it takes longer than the timeout; a check still
running from an earlier probe (a database that hangs) is waited on again rather than started twice.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

Check = Callable[[], None]
"""Returns when all is well; raises saying what is wrong."""

WORKERS = "workers"


@dataclass(frozen=True)
class ServedQueues:
    every_queue: bool = False
    queues: frozenset[str] = frozenset()

    def serves(self, queue: str) -> bool:
        return self.every_queue or queue in self.queues


class WorkerSource(Protocol):
    def serving(self) -> ServedQueues:
        """The queues that live workers of this source take jobs from, now."""


class Consumer(Protocol):
    queues: Sequence[str] | None

    def alive(self) -> bool: ...


class InProcessWorkers:
    """This process's own workers: they serve their queues (None: all) while their threads run."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer

    def serving(self) -> ServedQueues:
        if not self.consumer.alive():
            return ServedQueues()
        queues = self.consumer.queues
        return ServedQueues(every_queue=queues is None, queues=frozenset(queues or ()))


@dataclass(frozen=True)
class Report:
    ready: bool
    checks: dict[str, str]
    """Each check's result: "ok" or what is wrong."""
    missing: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "not_ready", "checks": self.checks, "missing": self.missing}


class Readiness:
    def __init__(
        self, checks: Mapping[str, Check], routes_by_queue: Mapping[str, Sequence[str]],
        worker_sources: Sequence[WorkerSource] = (), timeout_seconds: float = 5.0,
    ) -> None:
        """`routes_by_queue`: every queue jobs are sent to, and the routes that send them there."""
        self.checks = dict(checks)
        self.routes_by_queue = {queue: list(routes) for queue, routes in routes_by_queue.items()}
        self.worker_sources = list(worker_sources)
        self.timeout_seconds = timeout_seconds
        self._executor = ThreadPoolExecutor(max_workers=len(self.checks) + 1, thread_name_prefix="reelserve-ready")
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def add_worker_source(self, source: WorkerSource) -> None:
        self.worker_sources.append(source)

    def report(self) -> Report:
        started = {name: self._start(name, check) for name, check in self.checks.items()}
        started[WORKERS] = self._start(WORKERS, self._workers_check)
        deadline = time.monotonic() + self.timeout_seconds
        results: dict[str, str] = {}
        missing: list[str] = []
        for name, future in started.items():
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
                results[name] = "ok"
            except FutureTimeout:
                results[name] = f"no answer within {self.timeout_seconds:g} s"
            except _Unserved as unserved:
                results[name] = f"{len(unserved.lacking)} queue(s) without a worker"
                missing.extend(unserved.lacking)
                continue
            except Exception as exc:
                results[name] = _describe(exc)
            if results[name] != "ok":
                missing.append(f"{name}: {results[name]}")
        return Report(ready=not missing, checks=results, missing=missing)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _start(self, name: str, check: Check) -> Future[None]:
        with self._lock:
            running = self._running.get(name)
            if running is None or running.done():
                running = self._running[name] = self._executor.submit(check)
            return running

    def _workers_check(self) -> None:
        served = [source.serving() for source in self.worker_sources]
        lacking = [
            f"a worker for queue {queue!r} (routes: {', '.join(routes)})"
            for queue, routes in self.routes_by_queue.items()
            if not any(found.serves(queue) for found in served)
        ]
        if lacking:
            raise _Unserved(lacking)


class _Unserved(Exception):
    def __init__(self, lacking: list[str]) -> None:
        super().__init__("; ".join(lacking))
        self.lacking = lacking


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


class StoredProbe:
    """Storage takes a small file and gives it up again: a key per process, written and deleted."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.key = f"readiness/{os.getpid()}-{id(self):x}"

    def __call__(self) -> None:
        self.storage.put_bytes(self.key, b"ready")
        self.storage.delete(self.key)
