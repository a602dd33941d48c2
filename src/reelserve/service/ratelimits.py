"""Requests per minute per key, counted by the `limits` library: in memory by default, in Redis when
several API processes must share the counts. The counting is asynchronous: a Redis round trip does not
hold up the event loop, and the in-memory counters expire in a task on the loop rather than in threads.

The window slides: this minute's count plus last minute's weighted by how much of it still overlaps the
last 60 seconds. Two counters per key, so a hit costs the same at 60 requests a minute as at a million
(a log of every request's time, the exact moving window, grows with the limit).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from reelserve.errors import RateLimited


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_at: float

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


class RequestRateLimiter:
    def __init__(self, storage_uri: str | None = None) -> None:
        """`storage_uri`: None for memory, or a `redis://` URL (redis-py's asyncio client is used)."""
        uri = storage_uri or "memory://"
        options = {"implementation": "redispy"} if uri.startswith(("redis://", "rediss://")) else {}
        self.storage = storage_from_string(f"async+{uri}", **options)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)

    async def hit(self, key_id: str, per_minute: int) -> RateState:
        """Counts one request; raises RateLimited when the key is over its limit."""
        item = RateLimitItemPerMinute(per_minute)
        allowed = await self.limiter.hit(item, "rpm", key_id)
        stats = await self.limiter.get_window_stats(item, "rpm", key_id)
        state = RateState(limit=per_minute, remaining=max(0, stats.remaining), reset_at=stats.reset_time)
        if not allowed:
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited(
                f"rate limit exceeded: {per_minute} requests per minute for this key; retry in {retry_after} s",
                retry_after=retry_after,
                headers=state.headers(),
            )
        return state
