"""When to send a call again, and after how long: exponential backoff with jitter, or the server's
Retry-After where it gives one."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from reelserve.client.calls import ApiCall
from reelserve.net.retry_after import retry_after_seconds

# Errors raised before the request left this machine: sending it again cannot do anything twice.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    """A Retry-After longer than this is not waited for: the error is raised with its `retry_after`."""

    def after_response(self, call: ApiCall, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before sending `call` again after this answer; None to keep the answer."""
        # A 429 was refused before any work was done: safe to repeat whatever the call.
        if response.status_code == 429 or (response.status_code >= 500 and call.idempotent):
            return self._delay(attempt, retry_after_seconds(response.headers.get("retry-after")))
        return None

    def after_error(self, call: ApiCall, error: httpx.TransportError, attempt: int) -> float | None:
        """Seconds to wait before sending `call` again after a connection error; None to raise it."""
        if call.idempotent or isinstance(error, NOT_SENT):
            return self._delay(attempt, None)
        return None

    def _delay(self, attempt: int, retry_after: float | None) -> float | None:
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        backoff = min(self.max_delay, self.base_delay * 2**attempt)
        return random.uniform(backoff / 2, backoff)


@dataclass
class PollSchedule:
    """Polling intervals: quick while the prediction keeps changing, backing off while it does not."""

    shortest: float = 0.5
    longest: float = 5.0
    factor: float = 1.5

    def __post_init__(self) -> None:
        self._next = self.shortest

    def next(self, changed: bool) -> float:
        if changed:
            self._next = self.shortest
        interval = self._next
        self._next = min(self.longest, self._next * self.factor)
        return random.uniform(interval * 0.9, interval * 1.1)
