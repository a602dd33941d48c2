"""OpenAI's error object, `{"error": {"message", "type", "param", "code"}}`, with reelserve's HTTP statuses."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from reelserve.api.envelope import EnvelopeResponse
from reelserve.api.errors import ErrorShape

PATHS = ("/v1",)

KINDS: dict[str, tuple[str, str | None]] = {
    "invalid_request_error": ("invalid_request_error", None),
    "content_policy_violation": ("invalid_request_error", "moderation_blocked"),
    "authentication_error": ("invalid_request_error", "invalid_api_key"),
    "permission_error": ("invalid_request_error", "permission_denied"),
    "insufficient_balance": ("insufficient_quota", "insufficient_quota"),
    "not_found": ("invalid_request_error", "not_found"),
    "rate_limit_exceeded": ("requests", "rate_limit_exceeded"),
    "server_error": ("server_error", None),
}
"""reelserve's error type -> OpenAI's (type, code)."""


def render(
    status: int, error_type: str, message: str, param: str | None = None, body_code: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    kind, code = KINDS.get(error_type, ("server_error" if status >= 500 else "invalid_request_error", None))
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return EnvelopeResponse(body, status_code=status, headers=headers)


NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}]}
SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"}, "type": {"type": "string"}, "param": NULLABLE_STRING,
                "code": NULLABLE_STRING,
            },
        }
    },
}
SHAPE = ErrorShape(paths=PATHS, render=render, schema_name="OpenAIErrorResponse", schema=SCHEMA)
