"""The seam between the lifecycle and whatever hands jobs to workers.

A backend keeps a job queued if and only if the transaction that admitted (or requeued) it commits: `enqueue`
runs on that transaction's connection. Workers run a job by its id; a consumer takes jobs from the queues it
serves and hands each, already started (jobs.transitions.start, in the same transaction as the take where the
backend allows), to a handler together with its stop token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection

from reelserve.engines.base import StopToken

PRIORITY_NEW = 0
PRIORITY_RETRY = 10
"""A job whose worker was lost or shut down goes before new ones: it has waited once already."""


@dataclass(frozen=True)
class QueuedJob:
    prediction_id: str
    queue: str
    priority: int = PRIORITY_NEW


@dataclass(frozen=True)
class LostJob:
    """A running job whose worker the backend holds to be gone, and the worker that held it then."""

    prediction_id: str
    worker_id: str | None


JobHandler = Callable[[Any, StopToken], None]
"""Runs one started job (its prediction row) to its end; the token says when and why to stop."""


class Consumer(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float) -> None:
        """Stops taking jobs; running ones are told to stop (StopReason.SHUTDOWN) and go back to the queue."""

    def running(self) -> list[str]: ...


class JobQueue(Protocol):
    name: str

    def enqueue(self, connection: Connection, jobs: Sequence[QueuedJob]) -> None:
        """Queues the jobs as part of the caller's open transaction."""

    def discard(self, connection: Connection, prediction_id: str) -> None:
        """Drops a job that will never start (cancelled while waiting), in the caller's transaction."""

    def consumer(
        self, handler: JobHandler, queues: Sequence[str] | None, concurrency: int, worker_name: str
    ) -> Consumer:
        """Workers for `queues` (None: every queue), `concurrency` jobs at a time."""

    def lost(self, connection: Connection) -> list[LostJob]:
        """The running jobs whose worker is gone, by this backend's one test of a worker's life (the embedded
        queue: the job's lease ran out; procrastinate: no worker with a live heartbeat runs it)."""

    def schedule(self, name: str, every_seconds: float, task: Callable[[], object]) -> bool:
        """Runs `task` every `every_seconds`, one run at a time across all processes, where the backend has a
        scheduler of its own (True; register before consumers start); False where it has none, and each process
        runs the task in its own maintenance."""

    def release_lost(self, connection: Connection, jobs: Sequence[LostJob]) -> None:
        """In the transaction where the lifecycle requeues or gives up lost jobs: ends what the backend still
        holds of their lost runs."""
