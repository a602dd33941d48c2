"""The client's exceptions, mapped from the error envelope's `error.type` (or, where a server sends no
envelope, from the HTTP status).

    ReelserveError                   every error the client raises
    ├── AuthenticationError          401: missing, unknown or revoked key
    ├── PermissionDenied             403: the key may not do this
    │   └── InsufficientBalance      403: the account cannot pay for the job
    ├── NotFound                     404: no such prediction, upload or endpoint
    ├── InvalidRequest               400: a parameter is wrong (`.param` names it)
    │   └── ContentPolicyViolation   400 with code 503: blocked by the content policy
    ├── RateLimited                  429: `.retry_after` seconds to wait
    ├── ServerError                  5xx
    ├── ConnectionFailed             the server could not be reached (after the retries)
    ├── Timeout                      a request, or a wait, ran out of time
    └── PredictionFailed             the prediction ended failed, cancelled or timeout (`.prediction`)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from reelserve.net.retry_after import retry_after_seconds

if TYPE_CHECKING:
    from reelserve.client.types import Prediction


class ReelserveError(Exception):
    """`message` is the server's own words where there was an answer; `status_code`, `type`, `param` and
    `code` (the envelope's) come from that answer and are None otherwise."""

    def __init__(
        self, message: str, *, status_code: int | None = None, type: str | None = None, param: str | None = None,
        code: int | None = None, response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.type = type
        self.param = param
        self.code = code
        self.response = response


class AuthenticationError(ReelserveError):
    pass


class PermissionDenied(ReelserveError):
    pass


class InsufficientBalance(PermissionDenied):
    pass


class NotFound(ReelserveError):
    pass


class InvalidRequest(ReelserveError):
    pass


class ContentPolicyViolation(InvalidRequest):
    pass


class RateLimited(ReelserveError):
    def __init__(self, message: str, *, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


class ServerError(ReelserveError):
    pass


class ConnectionFailed(ReelserveError):
    pass


class Timeout(ReelserveError):
    def __init__(self, message: str, *, prediction: Prediction | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.prediction = prediction


class PredictionFailed(ReelserveError):
    def __init__(self, prediction: Prediction) -> None:
        reason = f": {prediction.error}" if prediction.error else ""
        super().__init__(f"prediction {prediction.id} ended {prediction.status}{reason}")
        self.prediction = prediction


ERROR_TYPES: dict[str, type[ReelserveError]] = {
    "authentication_error": AuthenticationError,
    "permission_error": PermissionDenied,
    "insufficient_balance": InsufficientBalance,
    "not_found": NotFound,
    "invalid_request_error": InvalidRequest,
    "content_policy_violation": ContentPolicyViolation,
    "rate_limit_exceeded": RateLimited,
    "server_error": ServerError,
}
STATUS_ERRORS: dict[int, type[ReelserveError]] = {
    400: InvalidRequest, 401: AuthenticationError, 403: PermissionDenied, 404: NotFound, 405: InvalidRequest,
    413: InvalidRequest, 422: InvalidRequest, 429: RateLimited,
}
CONTENT_POLICY_CODE = 503


def error_from_response(response: httpx.Response, body: Any = None) -> ReelserveError:
    """The exception for an error answer; `body` is its parsed JSON where the caller has it."""
    if body is None:
        body = _json_or_none(response)
    envelope = body if isinstance(body, dict) else {}
    error = envelope.get("error") if isinstance(envelope.get("error"), dict) else {}
    code = envelope.get("code") if isinstance(envelope.get("code"), int) else None
    status = response.status_code if response.status_code >= 400 else (code or response.status_code)
    message = str(error.get("message") or envelope.get("message") or response.reason_phrase or f"HTTP {status}")
    error_class = ERROR_TYPES.get(str(error.get("type")))
    if error_class is None:
        if status == 400 and code == CONTENT_POLICY_CODE:
            error_class = ContentPolicyViolation
        else:
            error_class = STATUS_ERRORS.get(status, ServerError if status >= 500 else ReelserveError)
    details: dict[str, Any] = {
        "status_code": status, "type": error.get("type"), "param": error.get("param"), "code": code,
        "response": response,
    }
    if error_class is RateLimited:
        return RateLimited(message, retry_after=retry_after_seconds(response.headers.get("retry-after")), **details)
    return error_class(message, **details)


def error_from_transport(exc: httpx.TransportError, url: str) -> ReelserveError:
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"no answer from {url} in time ({type(exc).__name__})")
    return ConnectionFailed(f"could not reach {url}: {exc or type(exc).__name__}")


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
