"""Every error leaves the server in the envelope of DESIGN.md (or, under a wire dialect's paths, in that dialect's
error shape), never as a bare 422 or 500 page."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import Scope

from reelserve.api.envelope import ErrorRender, error_response, response_for
from reelserve.catalog.routes import input_error_from_errors
from reelserve.errors import InputError, ReelserveError

log = logging.getLogger(__name__)

HTTP_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found",
    405: "invalid_request_error",
    408: "invalid_request_error",
    416: "invalid_request_error",
    429: "rate_limit_exceeded",
}


@dataclass(frozen=True)
class ErrorShape:
    """How a wire dialect writes its errors, on the paths it owns; the OpenAPI document describes them so."""

    paths: tuple[str, ...]
    """The dialect's paths: each one itself and everything under it."""
    render: ErrorRender
    schema_name: str
    schema: dict[str, Any] = field(default_factory=dict)

    def owns(self, path: str) -> bool:
        """Whether a request path (without the root path) is the dialect's."""
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.paths)


def route_path(scope: Scope) -> str:
    """A request's path below the root path the app is mounted at (inside another ASGI app, or by a server run
    with a root path): the path that routes, body caps and dialects are matched by, as Starlette's router does."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    return path[len(root_path):] if root_path and path.startswith(root_path) else path


def install_error_handlers(app: FastAPI, shapes: Sequence[ErrorShape] = ()) -> None:
    def render_for(request: Request) -> ErrorRender:
        shape = shape_of_path(shapes, route_path(request.scope))
        return shape.render if shape is not None else error_response

    @app.exception_handler(ReelserveError)
    async def _reelserve_error(request: Request, exc: ReelserveError) -> JSONResponse:
        return response_for(exc, request.scope, render_for(request))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return response_for(input_error_from_errors(list(exc.errors())), render=render_for(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        message = str(exc.detail) if exc.detail else "error"
        if status == 404:
            message = "no such endpoint"
        error_type = HTTP_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return render_for(request)(status, error_type, message, None, None, getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _exc: ClientDisconnect) -> JSONResponse:
        # The client left, or was cut off for sending too slowly: no one reads this answer, and it is no error
        # of the server's to log.
        message = "the client disconnected before sending its request"
        return render_for(request)(400, "invalid_request_error", message, None, None, None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return render_for(request)(500, "server_error", "internal server error", None, None, None)


def in_dialect_terms(
    exc: InputError, field_of: Mapping[str, str], said_as: Mapping[str, str] | None = None
) -> InputError:
    """A route's refusal naming the dialect's field that carried the parameter (`field_of`: the route's parameter
    -> the dialect's field). The message starts with how `said_as` says that field, else with the parameter's own
    name where the two differ; the refusal is kept as it is where no field of the dialect carried the parameter."""
    if exc.param is None:
        return exc
    head = exc.param.split("[", 1)[0].split(".", 1)[0]
    field = field_of.get(head)
    if field is None:
        return exc
    said = (said_as or {}).get(field) or (f"{field} ({head} of the route)" if field != head else None)
    refusal = InputError(f"{said}: {exc.message}" if said else exc.message, param=field)
    refusal.headers = exc.headers
    return refusal


def shape_of_path(shapes: Sequence[ErrorShape], path: str) -> ErrorShape | None:
    return next((shape for shape in shapes if shape.owns(path)), None)
