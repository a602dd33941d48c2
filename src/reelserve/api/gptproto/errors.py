"""GPTProto's unified error response, `{"error": {"message", "code"}}` (its SDK's UnifiedErrorResponse), with
reelserve's error `type` and `param` beside them, and the HTTP status as v3 answers it."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from reelserve.api.envelope import EnvelopeResponse
from reelserve.api.errors import ErrorShape

PATHS = ("/api/v3/videos", "/api/v3/tasks")


def render(
    status: int, error_type: str, message: str, param: str | None = None, body_code: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "code": body_code or status, "type": error_type}
    if param is not None:
        error["param"] = param
    return EnvelopeResponse({"error": error}, status_code=status, headers=headers)


SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "code"],
            "properties": {
                "message": {"type": "string"}, "code": {"type": "integer"}, "type": {"type": "string"},
                "param": {"type": "string"},
            },
        }
    },
}
SHAPE = ErrorShape(paths=PATHS, render=render, schema_name="UnifiedErrorResponse", schema=SCHEMA)
