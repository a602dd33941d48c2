"""Following one prediction to its end: what has been seen, whom to tell, and when to give up."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx
from httpx_sse import ServerSentEvent, SSEError

from reelserve.client.errors import InvalidRequest, NotFound, ReelserveError, Timeout, error_from_transport
from reelserve.client.types import Prediction

ProgressCallback = Callable[[Prediction], object]
SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
PREDICTION_EVENT = "prediction"


class StreamUnavailable(Exception):
    """The server offers no event stream here, or it broke off: poll instead."""


def stream_unavailable(error: ReelserveError) -> bool:
    """A 404 or 405 from the stream endpoint: a server without it (or an unknown prediction, which polling
    then reports)."""
    return isinstance(error, NotFound) or (isinstance(error, InvalidRequest) and error.status_code == 405)


def stream_broken(exc: SSEError | httpx.TransportError, url: str, fallback: bool) -> Exception:
    """What to raise when an open event stream breaks: StreamUnavailable where the caller falls back to polling,
    else the error in the client's terms."""
    if fallback:
        return StreamUnavailable()
    if isinstance(exc, SSEError):
        return ReelserveError(f"the server's stream is not an event stream: {exc}")
    return error_from_transport(exc, url)


def prediction_of(event: ServerSentEvent) -> Prediction | None:
    if event.event != PREDICTION_EVENT or not event.data:
        return None
    return Prediction.from_data(event.json())


class Watch:
    def __init__(
        self, prediction: Prediction | str, timeout: float | None, progress: ProgressCallback | None
    ) -> None:
        self.id = prediction.id if isinstance(prediction, Prediction) else str(prediction)
        self.latest: Prediction | None = None
        self.timeout = timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.progress = progress
        if isinstance(prediction, Prediction):
            self.see(prediction)

    @property
    def finished(self) -> bool:
        return self.latest is not None and self.latest.finished

    def see(self, update: Prediction) -> bool:
        """Takes in the latest state; True when it differs from the one before (and was told)."""
        changed = self.latest is None or update.moment() != self.latest.moment()
        self.latest = update
        if changed and self.progress is not None:
            self.progress(update)
        return changed

    def remaining(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def check_time(self) -> None:
        if self.remaining() <= 0:
            status = self.latest.status if self.latest is not None else "unknown"
            raise Timeout(
                f"prediction {self.id} is still {status} after {self.timeout:g} s", prediction=self.latest
            )

    def stream_timeout(self, base: httpx.Timeout) -> httpx.Timeout:
        """The stream's read timeout ends with the wait, so that a quiet stream cannot outlast it."""
        remaining = self.remaining()
        if math.isinf(remaining):
            return base
        read = max(0.1, min(base.read if base.read is not None else remaining, remaining))
        return httpx.Timeout(base.connect, read=read, write=base.write, pool=base.pool)
