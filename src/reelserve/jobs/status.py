"""The statuses a job moves through; only the transitions in jobs/transitions.py change them.

A leaf of no imports, so that every layer (the store's queries too) names statuses by it rather than by strings.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    CREATED = "created"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    @property
    def ended(self) -> bool:
        return self in ENDED


class FailureKind(StrEnum):
    """Why a job failed or timed out, for the engine-failures metric; said by the code that saw the failure, never
    read from a message (a provider's words, which a message may quote, could say anything)."""

    OOM = "oom"
    """Out of memory: the GPU's, the host's, or a model worker killed by SIGKILL (most often the kernel's
    out-of-memory killer)."""
    CUDA_ERROR = "cuda_error"
    CRASH = "crash"
    """The worker process died, or reelserve's own code failed."""
    TIMEOUT = "timeout"
    OTHER = "other"

    @property
    def replaces_worker(self) -> bool:
        """Whether a resident model worker that saw it must be replaced (its CUDA state is suspect)."""
        return self in (FailureKind.OOM, FailureKind.CUDA_ERROR)


ENDED = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.TIMEOUT})
IN_FLIGHT = (Status.CREATED, Status.PROCESSING)
