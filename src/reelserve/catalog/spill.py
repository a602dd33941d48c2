"""Local first, hosted when busy: which of a route's engines takes the next job.

A route binds engines in order (`engines = ["diffusers", "upstream"]`, `spill_after_seconds = 120`). A job
goes to the first engine that is up and whose estimated wait (queue position x recent run time, which the
job lifecycle measures) is within the threshold; when every engine that is up would keep it waiting longer,
to the one with the shortest wait (the earlier on a tie). A route without a threshold always takes its
first engine that is up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol, TypeVar


class Binding(Protocol):
    @property
    def label(self) -> str: ...


B = TypeVar("B", bound=Binding)


def choose_binding(
    bindings: Sequence[B],
    spill_after_seconds: float | None,
    estimated_wait_seconds: Mapping[str, float],
    healthy: Collection[str],
) -> B | None:
    """The binding for the next job, or None when no engine of the route is up.

    `estimated_wait_seconds` and `healthy` are keyed by the binding's label; a binding missing from the
    estimates waits 0 s (a hosted provider has no queue of ours)."""
    up = [binding for binding in bindings if binding.label in healthy]
    if not up:
        return None
    if spill_after_seconds is None:
        return up[0]
    for binding in up:
        if estimated_wait_seconds.get(binding.label, 0.0) <= spill_after_seconds:
            return binding
    return min(up, key=lambda binding: estimated_wait_seconds.get(binding.label, 0.0))
