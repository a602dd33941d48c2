"""Every HTTP request observed, in front of everything else (the fast path included): its request id (taken from
X-Request-ID or made, and returned in that header), the log context its lines carry, its count and latency by
route template and status, its access log line, and its span where tracing is on.

The route template is what routing matched (`scope["route"]`), or what the fast path, which answers before
routing, says it answered (`scope[ROUTE_TEMPLATE]`); requests no route matched count as `unmatched`, so that no
label takes a raw path. Requests cut off by the connection guards (api/connections.py) before reaching the app are
not seen here.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelserve.observe import tracing
from reelserve.observe.context import LogContext, enter, leave
from reelserve.observe.logs import access_logger
from reelserve.observe.operations import Observability

ROUTE_TEMPLATE = "reelserve.route_template"
UNMATCHED = "unmatched"
REQUEST_ID_HEADER = b"x-request-id"
_GIVEN_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")


class RequestObserver:
    def __init__(self, app: ASGIApp, observability: Observability) -> None:
        self.app = app
        self.http = observability.http if observability.metrics_enabled else None
        self.access = observability.access_log if observability.access_log.enabled else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope["headers"])
        context = LogContext(request_id.decode(), scope=scope)
        token = enter(context)
        header = (REQUEST_ID_HEADER, request_id)
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            if tracing.enabled():
                await self._traced(scope, receive, answer, context, lambda: status)
            else:
                await self.app(scope, receive, answer)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            if self.http is not None:
                self.http.record(route, scope["method"], status, elapsed)
            if self.access is not None and self.access.wants(status):
                _log_access(scope, route, status, elapsed)
            leave(token)

    async def _traced(self, scope: Scope, receive: Receive, send: Send, context: LogContext, status: Any) -> None:
        method = scope["method"]
        with tracing.span(f"{method} request", **{tracing.REQUEST_ID: context.request_id or ""}) as span:
            try:
                await self.app(scope, receive, send)
            finally:
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attributes({
                    "http.request.method": method, "http.route": route, "url.path": scope["path"],
                    "http.response.status_code": status(),
                })
                prediction = context.prediction()
                if prediction is not None:
                    span.set_attribute(tracing.PREDICTION_ID, prediction)


def route_template(scope: MutableMapping[str, Any]) -> str:
    template = scope.get(ROUTE_TEMPLATE)
    if template is None:
        template = getattr(scope.get("route"), "path", None) or UNMATCHED
    return str(template)


def _request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _GIVEN_ID.fullmatch(value):
                return value
            break
    return b"%s%016x" % (_PROCESS_PREFIX, next(_made))


# A made id is unique, not secret: this process's random half, then a count (cheaper than 16 random bytes).
_PROCESS_PREFIX = secrets.token_hex(8).encode()
_made = itertools.count(1)


def _log_access(scope: Scope, route: str, status: int, elapsed: float) -> None:
    client = scope.get("client")
    method, path, milliseconds = scope["method"], scope["path"], round(elapsed * 1000, 2)
    access_logger.info(
        '"%s %s" %d %.2f ms', method, path, status, milliseconds,
        extra={"fields": {"event": "http.request", "method": method, "path": path, "route": route,
                          "status": status, "duration_ms": milliseconds,
                          "client": client[0] if client else None}},
    )
