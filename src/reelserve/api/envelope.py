"""The wire envelope: `{"code", "message", "data"}`, and the error body of DESIGN.md."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from fastapi.responses import JSONResponse

from reelserve.errors import ContentPolicyViolation, RateLimited, ReelserveError
from reelserve.service.ratelimits import RateState


class EnvelopeResponse(JSONResponse):
    """JSON as Starlette writes it (compact, UTF-8), serialised by orjson in a fraction of the time."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def success(data: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return EnvelopeResponse({"code": 200, "message": "success", "data": data}, headers=headers)


def error_response(
    status: int, error_type: str, message: str, param: str | None = None, body_code: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return EnvelopeResponse(error_envelope(status, error_type, message, param, body_code), status_code=status,
                            headers=headers)


def error_envelope(
    status: int, error_type: str, message: str, param: str | None = None, body_code: int | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if param is not None:
        error["param"] = param
    return {"code": body_code or status, "message": message, "data": None, "error": error}


ErrorRender = Callable[[int, str, str, str | None, int | None, dict[str, str] | None], JSONResponse]
"""Writes an error as a wire dialect shapes it: (status, type, message, param, body_code, headers)."""


# Where count_request leaves the request's RateState in the ASGI scope, so that every answer to a counted
# request, an error too, carries its X-RateLimit-* headers.
COUNTED_RATE = "reelserve.counted_rate"


def response_for(
    exc: ReelserveError, scope: Mapping[str, Any] | None = None, render: ErrorRender = error_response
) -> JSONResponse:
    """The error envelope for `exc` (or the shape `render` writes); with the request's `scope`, the rate headers of
    a counted request too."""
    counted: RateState | None = scope.get(COUNTED_RATE) if scope is not None else None
    headers = {**counted.headers(), **exc.headers} if counted is not None else dict(exc.headers)
    body_code = None
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, ContentPolicyViolation):
        body_code = exc.body_code
    return render(exc.status, exc.type, exc.message, exc.param, body_code, headers)
