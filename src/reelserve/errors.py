"""Errors that every layer may raise; the API layer turns them into the error envelope."""

from __future__ import annotations


class ReelserveError(Exception):
    status: int = 500
    type: str = "server_error"
    headers: dict[str, str]
    """Response headers that belong to this answer."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = {}


class InputError(ReelserveError):
    """The request is wrong in a way the client can fix (HTTP 400)."""

    status = 400
    type = "invalid_request_error"


class AuthenticationError(ReelserveError):
    status = 401
    type = "authentication_error"


class PermissionDenied(ReelserveError):
    status = 403
    type = "permission_error"


class InsufficientBalance(ReelserveError):
    status = 403
    type = "insufficient_balance"


class NotFound(ReelserveError):
    status = 404
    type = "not_found"

    @classmethod
    def no_such(cls, what: str, ident: str) -> NotFound:
        """'no prediction with id ...', echoing at most ECHOED_ID_CHARS of an id the client sent."""
        return cls(f"no {what} with id {echoed(ident)}")


ECHOED_ID_CHARS = 64


def echoed(value: str, limit: int = ECHOED_ID_CHARS) -> str:
    """A value the client sent, cut to `limit` characters for an error message."""
    return value if len(value) <= limit else value[: limit - 3] + "..."


class ClientGone(ReelserveError):
    """The client disconnected (or was cut off) while its request was being read; nothing is answered."""

    status = 400
    type = "invalid_request_error"


class RateLimited(ReelserveError):
    status = 429
    type = "rate_limit_exceeded"

    def __init__(self, message: str, retry_after: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers or {}


class RangeNotSatisfiable(ReelserveError):
    """A Range request for bytes the file does not have (HTTP 416)."""

    status = 416
    type = "invalid_request_error"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.headers = {"Content-Range": f"bytes */{size}"}


class ContentPolicyViolation(ReelserveError):
    """The seed's error table: HTTP 400 carrying code 503."""

    status = 400
    type = "content_policy_violation"
    body_code = 503
