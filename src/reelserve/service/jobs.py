"""Accepting a job: its inputs stored, then in one transaction its admission, its row and its charge;
then a nudge to the queue. Whatever fails on the way leaves nothing behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from reelserve.queue.local import DatabaseQueue
from reelserve.service.admission import admit_in_flight
from reelserve.service.billing import reserve
from reelserve.service.keys import KeyInfo
from reelserve.service.views import PredictionView, view_of
from reelserve.storage.local import LocalStorage
from reelserve.store import predictions as prediction_store
from reelserve.store.database import Database


@dataclass(frozen=True)
class NewJob:
    prediction_id: str
    model: str
    params: dict[str, Any]
    input_files: dict[str, bytes]
    price_micros: int
    input_refs: dict[str, Any] | None = None
    input_sources: dict[str, str] = field(default_factory=dict)
    """Storage keys where some of `input_files` already lie: those are linked, not written again."""


class JobIntake:
    def __init__(
        self, database: Database, storage: LocalStorage, queue: DatabaseQueue, default_max_concurrency: int
    ) -> None:
        self.database = database
        self.storage = storage
        self.queue = queue
        self.default_max_concurrency = default_max_concurrency

    def accept(self, key: KeyInfo, job: NewJob, may_wait: bool = True) -> PredictionView:
        stored: dict[str, Any] = dict(job.input_refs or {})
        try:
            for name, data in job.input_files.items():
                stored[name] = f"inputs/{job.prediction_id}-{name}"
                source = job.input_sources.get(name)
                if source is None or not self.storage.link(source, stored[name]):
                    self.storage.put_bytes(stored[name], data)
            with self.database.write(wait=may_wait) as connection:
                admit_in_flight(connection, key, self.default_max_concurrency)
                row = prediction_store.insert_new(
                    connection, id=job.prediction_id, key_id=key.id, account_id=key.account_id,
                    price_micros=job.price_micros, model=job.model, params=job.params, inputs=stored,
                )
                reserve(connection, key, job.price_micros, job.prediction_id, note=job.model)
            view = view_of(SimpleNamespace(**row))
        except BaseException:
            for name in job.input_files:
                self.storage.delete(stored[name])
            raise
        self.queue.enqueue(job.prediction_id)
        return view
