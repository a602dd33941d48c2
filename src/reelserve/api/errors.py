"""Every error leaves the server in the envelope of DESIGN.md, never as a bare 422 or 500 page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reelserve.api.envelope import error_response, response_for
from reelserve.catalog.routes import input_error_from_errors
from reelserve.errors import ReelserveError

log = logging.getLogger(__name__)

HTTP_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found",
    405: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ReelserveError)
    async def _reelserve_error(_request: Request, exc: ReelserveError) -> JSONResponse:
        return response_for(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return response_for(input_error_from_errors(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        message = str(exc.detail) if exc.detail else "error"
        if status == 404:
            message = "no such endpoint"
        error_type = HTTP_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return error_response(status, error_type, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "server_error", "internal server error")
