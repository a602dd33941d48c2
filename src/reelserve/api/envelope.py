"""The wire envelope: `{"code", "message", "data"}`, and the error body of DESIGN.md."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from reelserve.errors import ContentPolicyViolation, RateLimited, ReelserveError


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
    error: dict[str, Any] = {"type": error_type, "message": message}
    if param is not None:
        error["param"] = param
    body = {"code": body_code or status, "message": message, "data": None, "error": error}
    return EnvelopeResponse(body, status_code=status, headers=headers)


def response_for(exc: ReelserveError) -> JSONResponse:
    headers: dict[str, str] = {}
    body_code = None
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after), **exc.headers}
    if isinstance(exc, ContentPolicyViolation):
        body_code = exc.body_code
    return error_response(exc.status, exc.type, exc.message, exc.param, body_code, headers)
