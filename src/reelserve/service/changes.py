"""Following predictions as they change, for event streams and sync-mode waits, at one database read per tick for
all the predictions followed in this process, whatever the number of followers.

A follower gets the prediction each time its status, progress, place in the queue, error or outputs change, and
nothing more after it has ended. Jobs that end in this process wake the poller at once; others are seen at the
next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from reelserve.jobs.status import Status
from reelserve.service.views import PredictionView
from reelserve.service.waiting import WaitEstimates
from reelserve.store import predictions as prediction_store
from reelserve.store.database import Database

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
POSITIONS_EVERY_TICKS = 8


class Closing(Exception):
    """The server is shutting down: followers stop waiting."""


class _Seen(NamedTuple):
    """What a follower was last told of a prediction: a change to any of it is news."""

    status: str
    progress: int | None
    queue_position: int | None
    error: str | None

    @classmethod
    def of(cls, view: PredictionView) -> _Seen:
        return cls(view.status, view.progress, view.queue_position, view.error)


@dataclass
class _Followed:
    followers: list[asyncio.Queue[PredictionView | None]] = field(default_factory=list)
    last: _Seen | None = None


class PredictionChanges:
    def __init__(self, database: Database, waits: WaitEstimates, tick_seconds: float = TICK_SECONDS) -> None:
        self.database = database
        self.waits = waits
        self.tick_seconds = tick_seconds
        self._followed: dict[str, _Followed] = {}
        self._poller: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._nudged: asyncio.Event | None = None
        self._ended: set[str] = set()
        """Followed predictions whose job ended in this process since the last look."""
        self._closing = False

    @property
    def followed(self) -> int:
        return len(self._followed)

    async def follow(self, first: PredictionView) -> AsyncIterator[PredictionView]:
        """`first`, then the prediction on each change, until it has ended. Raises Closing at shutdown."""
        yield first
        if first.finished:
            return
        queue: asyncio.Queue[PredictionView | None] = asyncio.Queue()
        entry = self._followed.setdefault(first.id, _Followed())
        entry.followers.append(queue)
        entry.last = entry.last or _Seen.of(first)
        self._ensure_poller()
        try:
            while True:
                view = await queue.get()
                if view is None:
                    raise Closing()
                yield view
                if view.finished:
                    return
        finally:
            entry.followers.remove(queue)
            if not entry.followers:
                self._followed.pop(first.id, None)

    def nudge(self, ended: Any) -> None:
        """From any thread: a job of this process ended (jobs.transitions.Ended); if it is followed, look at it now
        rather than at the next tick."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._ended_here, ended.prediction_id)

    def _ended_here(self, prediction_id: str) -> None:
        if prediction_id in self._followed and self._nudged is not None:
            self._ended.add(prediction_id)
            self._nudged.set()

    def close(self) -> None:
        """Ends every follower with Closing (sync waits answer with the sync-timeout answer)."""
        self._closing = True
        for entry in list(self._followed.values()):
            for queue in entry.followers:
                queue.put_nowait(None)
        if self._poller is not None:
            self._poller.cancel()

    def _ensure_poller(self) -> None:
        if self._closing:
            raise Closing()
        if self._poller is None or self._poller.done():
            self._loop = asyncio.get_running_loop()
            self._nudged = asyncio.Event()
            self._poller = self._loop.create_task(self._poll(), name="reelserve-prediction-changes")

    async def _poll(self) -> None:
        """Every tick, every followed prediction; between ticks, as soon as they end, those whose job ended here."""
        assert self._nudged is not None
        tick = 0
        next_tick = asyncio.get_running_loop().time() + self.tick_seconds
        while self._followed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudged.wait(), max(0.0, next_tick - asyncio.get_running_loop().time()))
            self._nudged.clear()
            ended, self._ended = self._ended, set()
            everything = asyncio.get_running_loop().time() >= next_tick
            if everything:
                tick += 1
                next_tick = asyncio.get_running_loop().time() + self.tick_seconds
            try:
                positions = everything and tick % POSITIONS_EVERY_TICKS == 1
                await self._look(None if everything else ended, with_positions=positions)
            except Exception:
                log.exception("reading followed predictions failed; trying again")

    async def _look(self, only: set[str] | None, with_positions: bool) -> None:
        """Tells the followers of the predictions that changed (of `only` these, where given)."""
        known = {
            prediction_id: entry.last for prediction_id, entry in self._followed.items()
            if only is None or prediction_id in only
        }
        if not known:
            return
        for view in await asyncio.to_thread(self._changed, known, with_positions):
            entry = self._followed.get(view.id)
            if entry is None:
                continue
            entry.last = _Seen.of(view)
            for queue in entry.followers:
                queue.put_nowait(view)

    def _changed(self, known: dict[str, _Seen | None], with_positions: bool) -> list[PredictionView]:
        """The followed predictions that changed since `known`: their state read for all (a few columns each),
        the whole row only for those that changed."""
        states = prediction_store.states_by_id(self.database, list(known))
        waiting = [state.id for state in states if state.status == Status.CREATED]
        places = prediction_store.queue_positions(self.database, waiting) if with_positions and waiting else {}
        changed: dict[str, int | None] = {}
        for state in states:
            last = known.get(state.id)
            position = None
            if state.status == Status.CREATED:
                position = places.get(state.id) if with_positions else (last.queue_position if last else None)
            if _Seen(state.status, state.progress, position, state.error) != last:
                changed[state.id] = position
        if not changed:
            return []
        return [self.waits.view(row, changed[row.id]) for row in prediction_store.rows_by_id(self.database, changed)]
