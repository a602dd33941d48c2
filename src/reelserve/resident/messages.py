"""What a parent and its resident child say to each other besides the jobs themselves (all picklable).

A job is any picklable object with a `job_id`; its result is any other such object the child sends back.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelserve.jobs.status import FailureKind


@dataclass(frozen=True)
class Shutdown:
    pass


@dataclass(frozen=True)
class Ready:
    device: str
    dtype: str
    load_seconds: float


@dataclass(frozen=True)
class LoadFailed:
    message: str
    kind: FailureKind


@dataclass(frozen=True)
class Progress:
    job_id: str
    steps_done: int


@dataclass(frozen=True)
class JobStopped:
    job_id: str


@dataclass(frozen=True)
class JobFailed:
    job_id: str
    message: str
    kind: FailureKind
    """After an out-of-memory or a CUDA error (`kind.replaces_worker`) the child exits; the parent starts a new one."""
