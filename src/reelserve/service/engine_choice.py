"""Which of a route's engines takes a job: local first, hosted when busy (catalog/spill.py decides from the
estimated waits here and which engines a live worker serves: one that none serves is down, unless none of the
route's engines is served, when the waits alone decide)."""

from __future__ import annotations

from typing import Protocol

from reelserve.catalog.bindings import RouteBinding, RouteEngines
from reelserve.catalog.spill import choose_binding
from reelserve.service.waiting import WaitEstimates


class WorkerLiveness(Protocol):
    def serves(self, queue: str) -> bool:
        """Whether a live worker serves the queue now (service/workers.py: the workers' heartbeats)."""


class EngineChooser:
    def __init__(self, engines: RouteEngines, waits: WaitEstimates, liveness: WorkerLiveness) -> None:
        self.engines = engines
        self.waits = waits
        self.liveness = liveness

    def choose(self, route_id: str) -> RouteBinding:
        entry = self.engines.entry(route_id)
        if len(entry.bindings) == 1:
            return entry.bindings[0]
        waits = (
            {} if entry.spill_after_seconds is None
            else {binding.label: self.waits.wait_seconds(binding.queue) for binding in entry.bindings}
        )
        served = {binding.label for binding in entry.bindings if self.liveness.serves(binding.queue)}
        # No worker up for any of them (all down, or none started yet): the waits alone decide.
        up = served or {binding.label for binding in entry.bindings}
        chosen = choose_binding(entry.bindings, entry.spill_after_seconds, waits, up)
        return chosen if chosen is not None else entry.bindings[0]
