"""Errors that every layer may raise; the API layer turns them into the error envelope."""

from __future__ import annotations


class WouldBlock(Exception):
    """Raised by work told not to wait when it meets something that would: a fetch, a large image, a lock
    another writer holds. Raised before anything is kept, so the caller can run it again where it may wait.
    Never an answer to a client."""


class ReelserveError(Exception):
    status: int = 500
    type: str = "server_error"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


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


class RateLimited(ReelserveError):
    status = 429
    type = "rate_limit_exceeded"

    def __init__(self, message: str, retry_after: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers or {}


class ContentPolicyViolation(ReelserveError):
    """The seed's error table: HTTP 400 carrying code 503."""

    status = 400
    type = "content_policy_violation"
    body_code = 503
