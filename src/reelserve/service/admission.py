"""Whether a key may start another job now: its route permissions and its cap on jobs in flight.

The cap is kept in the database, on the key's row, so it holds across API processes.
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
    limit = key.limits.max_concurrency or default_max
    if not account_store.take_in_flight_slot(executor, key.id, limit):
        running = account_store.in_flight(executor, key.id)
        raise RateLimited(
            f"this key has {running} jobs in flight; the limit is {limit}. Wait for one to finish",
            retry_after=IN_FLIGHT_RETRY_AFTER_SECONDS,
        )
