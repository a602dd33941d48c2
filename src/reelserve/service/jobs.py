"""Accepting jobs: their inputs stored, then in one transaction (jobs/admission.py) their admission, their rows,
their charges and their places in the queue. Whatever fails on the way leaves nothing behind.

Jobs accepted on the event loop in the same turn of it are committed together (group commit): on SQLite the
transaction runs on the loop where no other writer holds the database (`Database.write_if_free`), else in a
thread; a batch being committed in a thread is joined by nothing, the jobs arriving meanwhile form the next one.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from reelserve.errors import InsufficientBalance, RateLimited
from reelserve.jobs import admission
from reelserve.jobs.queue import JobQueue
from reelserve.observe import job_events
from reelserve.service.keys import KeyInfo
from reelserve.service.money import format_usd
from reelserve.service.uploads import upload_gone
from reelserve.service.views import PredictionView, view_of
from reelserve.storage.base import Storage
from reelserve.store import accounts as account_store
from reelserve.store.database import Database

IN_FLIGHT_RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class NewJob:
    prediction_id: str
    model: str
    params: dict[str, Any]
    input_files: dict[str, bytes]
    price_micros: int
    input_refs: dict[str, Any] | None = None
    input_sources: dict[str, str] = field(default_factory=dict)
    """Storage keys of inputs that already lie in storage (uploads): those are linked, not written again. Their
    bytes may be in `input_files` too, or not (never read)."""
    queue: str = ""
    binding: str | None = None
    """Which of the route's engines runs it, where the route binds several."""
    max_run_seconds: int | None = None
    webhook_url: str | None = None
    base_url: str | None = None
    idempotency: admission.Idempotency | None = None


@dataclass
class _Entry:
    key: KeyInfo
    job: NewJob
    kept: list[str] = field(default_factory=list)
    """Storage keys of the inputs written so far, removed again unless the job is admitted."""


Outcome = PredictionView | BaseException


class _BatchFailed(Exception):
    """A batch's transaction failed; its jobs are tried again one by one, where they may wait."""


Waiting = list[tuple[_Entry, asyncio.Future[PredictionView]]]


@dataclass
class _LoopBatches:
    """The jobs of one event loop waiting for their transaction."""

    waiting: Waiting = field(default_factory=list)
    committing_in_thread: bool = False


class JobIntake:
    def __init__(
        self, database: Database, storage: Storage, queue: JobQueue, default_max_concurrency: int
    ) -> None:
        self.database = database
        self.storage = storage
        self.queue = queue
        self.default_max_concurrency = default_max_concurrency
        self._batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBatches] = (
            weakref.WeakKeyDictionary()
        )

    def check_can_start(self, key: KeyInfo, price_micros: int) -> None:
        """Refuses, before costly checks, a job its key could not start now (balance, jobs in flight); the
        admission transaction judges again, for good."""
        with self.database.statement_read() as connection:
            in_flight, balance = account_store.standing(connection, key.id)
        limit = key.limits.max_concurrency or self.default_max_concurrency
        if in_flight >= limit or balance < price_micros:
            raise _refusal_error(admission.Refusal(in_flight, limit, balance, price_micros))

    def accept(self, key: KeyInfo, job: NewJob) -> PredictionView:
        """One job in a transaction of its own, for callers that may block."""
        outcome = self._admit_waiting([_Entry(key, job)])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        _accepted(key, job, outcome)
        return outcome

    async def accept_soon(self, key: KeyInfo, job: NewJob) -> PredictionView:
        """On the event loop: the job is committed with the others accepted in this turn of the loop."""
        loop = asyncio.get_running_loop()
        batches = self._batches.get(loop)
        if batches is None:
            batches = self._batches[loop] = _LoopBatches()
        future: asyncio.Future[PredictionView] = loop.create_future()
        if not batches.waiting and not batches.committing_in_thread:
            loop.call_soon(self._commit_waiting, batches)
        batches.waiting.append((_Entry(key, job), future))
        view = await future
        _accepted(key, job, view)
        return view

    def _commit_waiting(self, batches: _LoopBatches) -> None:
        waiting, batches.waiting = batches.waiting, []
        entries = [entry for entry, _ in waiting]
        try:
            outcomes = self._admit_if_free(entries)
        except _BatchFailed:
            self._commit_in_thread(batches, waiting, lambda: self._admit_one_by_one(entries))
            return
        if outcomes is None:
            self._commit_in_thread(batches, waiting, lambda: self._admit_waiting(entries))
        else:
            _settle(waiting, outcomes)

    def _commit_in_thread(self, batches: _LoopBatches, waiting: Waiting, commit: Callable[[], list[Outcome]]) -> None:
        batches.committing_in_thread = True
        done = asyncio.get_running_loop().run_in_executor(None, commit)
        done.add_done_callback(lambda finished: self._committed_in_thread(batches, waiting, finished))

    def _committed_in_thread(
        self, batches: _LoopBatches, waiting: Waiting, finished: asyncio.Future[list[Outcome]]
    ) -> None:
        batches.committing_in_thread = False
        failure = finished.exception()
        _settle(waiting, [failure] * len(waiting) if failure is not None else finished.result())
        if batches.waiting:
            asyncio.get_running_loop().call_soon(self._commit_waiting, batches)

    def _admit_if_free(self, entries: Sequence[_Entry]) -> list[Outcome] | None:
        """Admits the batch where the database's writer is free at once; None, with nothing kept, where it is not;
        _BatchFailed where the batch's transaction failed, so that its jobs can be tried one by one."""
        try:
            with self.database.write_if_free() as connection:
                if connection is None:
                    return None
                stored = admission.admit(connection, self.queue, [self._stored_row(entry) for entry in entries])
        except BaseException as exc:
            self._remove_all_inputs(entries)
            if len(entries) > 1 and isinstance(exc, Exception):
                raise _BatchFailed from exc
            return [exc] * len(entries)
        return self._outcomes(entries, stored)

    def _admit_waiting(self, entries: Sequence[_Entry]) -> list[Outcome]:
        """Admits the batch in a transaction that waits for the writer; a failing batch is tried job by job."""
        try:
            with self.database.write() as connection:
                stored = admission.admit(connection, self.queue, [self._stored_row(entry) for entry in entries])
        except BaseException as exc:
            self._remove_all_inputs(entries)
            if len(entries) == 1 or not isinstance(exc, Exception):
                return [exc] * len(entries)
            return self._admit_one_by_one(entries)
        return self._outcomes(entries, stored)

    def _outcomes(self, entries: Sequence[_Entry], stored: list[admission.Outcome]) -> list[Outcome]:
        results: list[Outcome] = []
        for entry, outcome in zip(entries, stored, strict=True):
            if isinstance(outcome, dict):
                results.append(_view(outcome))
                continue
            self._remove_inputs(entry)
            if isinstance(outcome, admission.Replay):
                results.append(_view(outcome.row))
            elif isinstance(outcome, admission.Refusal):
                results.append(_refusal_error(outcome))
            else:
                results.append(outcome)
        return results

    def _admit_one_by_one(self, entries: Sequence[_Entry]) -> list[Outcome]:
        """After a batch's transaction failed: each job in a transaction of its own, so that one fails alone."""
        return [self._admit_waiting([entry])[0] for entry in entries]

    def _stored_row(self, entry: _Entry) -> admission.NewJobRow:
        job, key = entry.job, entry.key
        inputs: dict[str, Any] = dict(job.input_refs or {})
        for name in dict.fromkeys([*job.input_files, *job.input_sources]):
            target = inputs[name] = f"inputs/{job.prediction_id}-{name}"
            self._put_input(job, name, target)
            entry.kept.append(target)
        return admission.NewJobRow(
            id=job.prediction_id, key_id=key.id, account_id=key.account_id, model=job.model, params=job.params,
            inputs=inputs, price_micros=job.price_micros,
            in_flight_limit=key.limits.max_concurrency or self.default_max_concurrency, queue=job.queue,
            binding=job.binding,
            max_run_seconds=job.max_run_seconds, webhook_url=job.webhook_url, base_url=job.base_url,
            idempotency=job.idempotency,
        )

    def _put_input(self, job: NewJob, name: str, target: str) -> None:
        """Linked where it lies in storage already; else written from its bytes, or copied where they were never
        read (a filesystem without hard links)."""
        source = job.input_sources.get(name)
        if source is not None and self.storage.link(source, target):
            return
        if name in job.input_files:
            self.storage.put_bytes(target, job.input_files[name])
            return
        try:
            self.storage.put_bytes(target, self.storage.read_bytes(job.input_sources[name]))
        except FileNotFoundError:
            raise upload_gone(name) from None

    def _remove_all_inputs(self, entries: Sequence[_Entry]) -> None:
        for entry in entries:
            self._remove_inputs(entry)

    def _remove_inputs(self, entry: _Entry) -> None:
        for stored in entry.kept:
            self.storage.delete(stored)
        entry.kept.clear()


def _accepted(key: KeyInfo, job: NewJob, view: PredictionView) -> None:
    """Counts and logs a job admitted now (not one an Idempotency-Key replayed), in its request's context."""
    if view.id == job.prediction_id:
        job_events.accepted(job.prediction_id, job.model, job.queue, key.id, job.price_micros)


def _view(row: Any) -> PredictionView:
    return view_of(SimpleNamespace(**row) if isinstance(row, dict) else row)


def _settle(waiting: Waiting, outcomes: Sequence[Outcome]) -> None:
    for (_, future), outcome in zip(waiting, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _refusal_error(refusal: admission.Refusal) -> Exception:
    if refusal.too_many_in_flight:
        return RateLimited(
            f"this key has {refusal.in_flight} jobs in flight; the limit is {refusal.in_flight_limit}. "
            "Wait for one to finish",
            retry_after=IN_FLIGHT_RETRY_AFTER_SECONDS,
        )
    return InsufficientBalance(
        f"insufficient balance: this request costs {format_usd(refusal.price_micros)} "
        f"and the balance is {format_usd(refusal.balance_micros)}"
    )
