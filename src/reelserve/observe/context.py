"""What a log line is about: the request (its id), the caller's key id, the prediction, the worker.

One mutable `LogContext` per request or job, held in a context variable: the request's task and the threads it
hands work to (which copy the context) share the same object, so an id bound anywhere along the way (the key once
authenticated, the prediction once admitted) shows on every later line about that request, the access line too.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from reelserve.errors import ECHOED_ID_CHARS


class LogContext:
    __slots__ = ("key_id", "prediction_id", "request_id", "scope", "worker")

    def __init__(
        self, request_id: str | None = None, *, key_id: str | None = None, prediction_id: str | None = None,
        worker: str | None = None, scope: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.request_id = request_id
        self.key_id = key_id
        self.prediction_id = prediction_id
        self.worker = worker
        self.scope = scope
        """The request's ASGI scope: a routed request's `{prediction_id}` path parameter is read from it."""

    def prediction(self) -> str | None:
        if self.prediction_id is not None or self.scope is None:
            return self.prediction_id
        params = self.scope.get("path_params")
        found = params.get("prediction_id") if params else None
        return found[:ID_CHARS] if isinstance(found, str) else None

    def fields(self) -> dict[str, str]:
        found = {"request_id": self.request_id, "key_id": self.key_id, "prediction_id": self.prediction(),
                 "worker": self.worker}
        return {name: value for name, value in found.items() if value is not None}


ID_CHARS = ECHOED_ID_CHARS
"""An id a client sent (a path) is cut to this length on log lines, as in error messages."""

_current: ContextVar[LogContext | None] = ContextVar("reelserve_log_context", default=None)


def current() -> LogContext | None:
    return _current.get()


def bind(*, key_id: str | None = None, prediction_id: str | None = None) -> None:
    """Adds ids to the current request's or job's context (nothing outside one)."""
    context = _current.get()
    if context is None:
        return
    if key_id is not None:
        context.key_id = key_id
    if prediction_id is not None:
        context.prediction_id = prediction_id[:ID_CHARS]


def enter(context: LogContext) -> Any:
    """Makes `context` the current one; returns the token `leave` takes."""
    return _current.set(context)


def leave(token: Any) -> None:
    _current.reset(token)


@contextmanager
def job_context(prediction_id: str, key_id: str | None, worker: str | None) -> Iterator[LogContext]:
    """The context of a job's lines while a worker thread runs it."""
    context = LogContext(prediction_id=prediction_id, key_id=key_id, worker=worker)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
