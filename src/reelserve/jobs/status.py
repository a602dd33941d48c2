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


ENDED = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.TIMEOUT})
IN_FLIGHT = (Status.CREATED, Status.PROCESSING)
