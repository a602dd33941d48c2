"""Where the API's work runs: the one place that decides between the event loop and a thread.

- Reads of the database run on the event loop where the database is a local file (SQLite: a read costs tens of
  microseconds, less than a hand-off to a thread), else in the threadpool.
- A submit's checks run on the event loop only where they are light (small images checked without decoding many
  pixels, nothing to fetch, a local database); fetches and webhook host checks run in a bounded pool of their own,
  at most `fetches_per_key` at once per key (429 past it), so that slow URLs cannot take the threads everyone
  else needs; everything else runs in the threadpool.
- A JSON body is parsed on the loop up to PARSED_ON_THE_LOOP_BYTES, in the threadpool beyond.
- Jobs are committed by the group commit (service/jobs.py), which on SQLite commits on the loop only where the
  database's writer is free at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from reelserve.errors import RateLimited
from reelserve.runtime import Runtime
from reelserve.service.keys import KeyInfo
from reelserve.service.predictions import Draft, PreparedJob

T = TypeVar("T")

FETCH_RETRY_AFTER_SECONDS = 5


async def read(runtime: Runtime, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    if runtime.database.is_local:
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)


async def in_thread(work: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(work, *args)


PARSED_ON_THE_LOOP_BYTES = 256 * 1024
"""A JSON body this large parses in well under a millisecond; larger ones (inline images) parse in a thread."""


async def parse_json_body(parse: Callable[[bytes], T], data: bytes) -> T:
    if len(data) > PARSED_ON_THE_LOOP_BYTES:
        return await run_in_threadpool(parse, data)
    return parse(data)


async def complete_submit(request: Request, runtime: Runtime, draft: Draft) -> PreparedJob:
    work = draft.work
    if work.network:
        return await fetch_pool(request).run(draft.key, runtime.predictions.complete, draft)
    if work.light and runtime.database.is_local:
        return runtime.predictions.complete(draft)
    return await run_in_threadpool(runtime.predictions.complete, draft)


class FetchPool:
    """Threads for work that waits on other hosts, shared fairly: each key may hold `per_key` of them."""

    def __init__(self, threads: int, per_key: int) -> None:
        self.per_key = per_key
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="reelserve-fetch")
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def run(self, key: KeyInfo, work: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._held[key.id] >= self.per_key:
                raise RateLimited(
                    f"this key has {self._held[key.id]} requests fetching URLs at once; the limit is "
                    f"{self.per_key}. Wait for one to finish, or upload the file first",
                    retry_after=FETCH_RETRY_AFTER_SECONDS,
                )
            self._held[key.id] += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: work(*args))
        finally:
            with self._lock:
                self._held[key.id] -= 1
                if self._held[key.id] <= 0:
                    del self._held[key.id]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def fetch_pool(request: Request) -> FetchPool:
    pool: FetchPool = request.app.state.fetch_pool
    return pool
