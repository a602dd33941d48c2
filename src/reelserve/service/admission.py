"""Whether a key may start another job now: its route permissions and its cap on jobs in flight.

The cap is counted in the database, under a lock on the key's row, so it holds across API processes.
"""

from __future__ import annotations

from reelserve.errors import PermissionDenied, RateLimited
from reelserve.service.keys import KeyInfo
from reelserve.store import accounts as account_store
from reelserve.store.accounts import Executor

IN_FLIGHT_RETRY_AFTER_SECONDS = 5


def check_route_permission(key: KeyInfo, model_id: str) -> None:
    allowed = key.limits.models
    if allowed is not None and model_id not in allowed:
        raise PermissionDenied(f"this API key may not use {model_id}; it may use: {', '.join(allowed) or 'nothing'}")


def admit_in_flight(executor: Executor, key: KeyInfo, default_max: int) -> None:
    account_store.lock_key(executor, key.id)
    limit = key.limits.max_concurrency or default_max
    running = account_store.in_flight_count(executor, key.id, up_to=limit)
    if running >= limit:
        raise RateLimited(
            f"this key has {running} jobs in flight; the limit is {limit}. Wait for one to finish",
            retry_after=IN_FLIGHT_RETRY_AFTER_SECONDS,
        )
