"""How reelserve's HTTP connections are served: uvicorn's httptools protocol with deadlines on what a client
sends, and the uvicorn configuration that `reelserve serve` (and the test servers) run with.

uvicorn bounds idle keep-alive connections (`timeout_keep_alive`) and the drain at shutdown
(`timeout_graceful_shutdown`), but not a client that never finishes its headers or drips its body: either holds
its connection, and at shutdown the whole process, for as long as it keeps sending. GuardedHttpToolsProtocol
adds, per connection:

- headers: a request's headers must be complete within `header_timeout` of its first byte (of connecting, for
  a connection's first request), and hold at most `max_header_bytes`; else 408 or 431 and the connection closes;
- bodies: no gap between a body's pieces longer than `body_timeout`, and after `body_timeout` of grace an
  average of at least `body_min_rate` bytes a second; else 408 (when nothing was answered yet) and it closes.
  Time during which the server itself stopped reading (flow control: the app has not taken the last piece
  yet) starts a new grace period rather than counting against the client;
- shutdown: a request whose body is still arriving is answered 503 at once (nothing has acted on it yet), so
  that only requests already being handled hold the drain; ReelserveServer tells the app that shutdown began,
  so that requests waiting on a job answer at once too.

One timer per connection, re-armed only when it fires or a deadline moves earlier; the per-request cost is a
few attribute updates.
"""

from __future__ import annotations

import asyncio
import functools
import http
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from reelserve.api.envelope import error_envelope
from reelserve.config import Settings

_IDLE, _HEADERS, _BODY = "idle", "headers", "body"


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    max_header_bytes: int
    body_timeout: float
    body_min_rate: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.header_timeout_seconds,
            max_header_bytes=settings.max_header_bytes,
            body_timeout=settings.body_timeout_seconds,
            body_min_rate=settings.body_min_bytes_per_second,
        )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._phase = _IDLE
        self._phase_started = 0.0
        self._header_bytes = 0
        self._body_bytes = 0
        self._last_body_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # Connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = _IDLE
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == _IDLE:
            self._start_headers()
        if self._phase == _HEADERS:
            self._header_bytes += len(data)
        super().data_received(data)
        # Counted per read, so a read that also holds the start of a body may overshoot; it is judged only
        # while the headers are still unfinished.
        if self._phase == _HEADERS and self._header_bytes > self.limits.max_header_bytes:
            self._cut(431, f"the request's headers are larger than {self.limits.max_header_bytes} bytes")

    def shutdown(self) -> None:
        if self._phase == _BODY and self.cycle is not None and not self.cycle.response_started:
            self._cut(503, "the server is shutting down; send the request again", retry_after=True)
            return
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        self._cut(400, f"this is not a valid HTTP/1.1 request ({msg.rstrip('.')})")

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != _HEADERS:  # a pipelined request, begun in the same read as the one before it
            self._start_headers()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = _BODY
        self._phase_started = self._last_body_at = self.loop.time()
        self._body_bytes = 0
        self._arm(self._phase_started + self.limits.body_timeout)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        self._last_body_at = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._phase = _IDLE
        super().on_message_complete()

    # Deadlines

    def _start_headers(self) -> None:
        self._phase = _HEADERS
        self._phase_started = self.loop.time()
        self._header_bytes = 0
        self._arm(self._phase_started + self.limits.header_timeout)

    def _deadline(self) -> float | None:
        if self._phase == _HEADERS:
            return self._phase_started + self.limits.header_timeout
        if self._phase == _BODY:
            by_rate = self._phase_started + self.limits.body_timeout + self._body_bytes / self.limits.body_min_rate
            return min(by_rate, self._last_body_at + self.limits.body_timeout)
        return None

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            if self._timer.when() <= deadline:
                return
            self._timer.cancel()
        self._timer = self.loop.call_at(deadline, self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        deadline = self._deadline()
        if deadline is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if self._phase == _BODY and self.flow.read_paused:
            # Not the client's doing: a new grace period from now.
            self._phase_started = self._last_body_at = now
            self._body_bytes = 0
            deadline = self._deadline()
            assert deadline is not None
        if now < deadline:
            self._arm(deadline)
        elif self._phase == _HEADERS:
            if self._header_bytes:
                self._cut(408, f"the request's headers did not arrive within {self.limits.header_timeout:g} s")
            else:
                self.transport.close()
        else:
            self._cut(408, "the request's body arrived too slowly: "
                           f"a pause over {self.limits.body_timeout:g} s, or under "
                           f"{self.limits.body_min_rate:g} bytes a second on average")

    def _cut(self, status: int, message: str, retry_after: bool = False) -> None:
        """Answers `status` in the error envelope where nothing was answered yet, and closes the connection; the
        app, if it is handling the request, sees the client gone."""
        cycle = self.cycle
        if self._phase == _HEADERS:  # `cycle` is the previous request's: write only once its answer is done
            may_answer = cycle is None or cycle.response_complete
        else:
            may_answer = cycle is None or not cycle.response_started
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        if may_answer and not self.transport.is_closing():
            self.transport.write(_raw_error(status, message, self.server_state.default_headers, retry_after))
        self._phase = _IDLE
        self.transport.close()


def _raw_error(
    status: int, message: str, default_headers: list[tuple[bytes, bytes]], retry_after: bool
) -> bytes:
    error_type = "server_error" if status >= 500 else "invalid_request_error"
    body = orjson.dumps(error_envelope(status, error_type, message))
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [b"content-type: application/json", b"content-length: " + str(len(body)).encode(), b"connection: close"]
    if retry_after:
        lines.append(b"retry-after: 1")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def uvicorn_config(app: Any, settings: Settings, *, host: str, port: int, log_level: str) -> uvicorn.Config:
    """The configuration `reelserve serve` runs uvicorn with: asyncio's event loop, the guarded protocol,
    the keep-alive and shutdown bounds, and X-Forwarded-* taken only from `settings.trusted_proxies`. Logging is
    the process's own (observe/logs.py): uvicorn's lines go to the root logger's handler, and the access log is
    reelserve's (api/observer.py, REELSERVE_ACCESS_LOG), not uvicorn's."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        access_log=False,
        lifespan="on",
        # asyncio's loop, not uvloop: submits run on the loop, and libuv accepts one connection per loop
        # iteration, so under load new connections would wait seconds to be accepted.
        loop="asyncio",
        http=functools.partial(GuardedHttpToolsProtocol, limits=ConnectionLimits.from_settings(settings)),
        timeout_keep_alive=settings.keep_alive_timeout_seconds,  # type: ignore[arg-type]
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,  # type: ignore[arg-type]
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
    )


class ReelserveServer(uvicorn.Server):
    """uvicorn's server, telling the app when a shutdown begins: before uvicorn waits for open requests to
    finish, so that requests waiting on a job (sync mode, event streams) end at once with the answer that says
    where to poll, rather than holding the shutdown until their job ends."""

    def __init__(self, config: uvicorn.Config, on_stopping: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_stopping = on_stopping

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.on_stopping()
        await super().shutdown(sockets)
