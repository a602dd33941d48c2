"""The FastAPI application: routes, error handlers, and the runtime's start and stop."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from pydantic.json_schema import models_json_schema

from reelserve import __version__
from reelserve.api import (
    account,
    admin,
    admin_reports,
    execution,
    files,
    history,
    models,
    monitoring,
    prediction_control,
    predictions,
    streams,
    uploads,
    voices,
    webhooks,
)
from reelserve.api.body_gate import BodyGate
from reelserve.api.dependencies import runtime_of
from reelserve.api.errors import ErrorShape, install_error_handlers, shape_of_path
from reelserve.api.execution import FetchPool
from reelserve.api.fast_path import KnownKeyFastPath
from reelserve.api.gptproto import errors as gptproto_errors
from reelserve.api.gptproto import routes as gptproto
from reelserve.api.observer import RequestObserver
from reelserve.api.openai import errors as openai_errors
from reelserve.api.openai import routes as openai_videos
from reelserve.api.studio import install_studio
from reelserve.config import Settings
from reelserve.runtime import Runtime, build_runtime
from reelserve.service.uploads import LARGEST_UPLOAD

OWN_TELEMETRY_ONLY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""Requests are observed by api/observer.py (spans, metrics, access log). FastAPI's native OpenTelemetry, which
starts itself wherever the process has a global provider (as under `opentelemetry-instrument`), would add a second
server span and metric per request, and its check for a provider costs each request a few microseconds."""


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    if runtime is None:
        runtime = build_runtime(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.start)
        _exempt_from_full_collections()
        try:
            yield
        finally:
            gc.unfreeze()
            runtime.changes.close()
            fetch_pool.close()
            await run_in_threadpool(runtime.stop)

    app = FastAPI(
        title="reelserve",
        version=__version__,
        description="Self-hosted video generation behind the v3 predictions API.",
        lifespan=lifespan,
        telemetry=OWN_TELEMETRY_ONLY,
    )
    app.state.runtime = runtime
    fetch_pool = FetchPool(runtime.settings.fetch_threads, runtime.settings.fetches_per_key)
    app.state.fetch_pool = fetch_pool
    install_error_handlers(app, DIALECT_ERRORS)
    app.include_router(history.router)
    app.include_router(prediction_control.router)
    app.include_router(streams.router)
    app.include_router(webhooks.router)
    app.include_router(predictions.router)
    app.include_router(predictions.generation_router(runtime.engines.routes(), runtime.prices))
    app.include_router(models.router)
    app.include_router(files.router)
    app.include_router(account.router)
    app.include_router(admin.router)
    app.include_router(admin_reports.router)
    app.include_router(uploads.router)
    app.include_router(voices.router)
    app.include_router(openai_videos.router)
    app.include_router(gptproto.router)
    install_studio(app)
    app.include_router(monitoring.router)
    app.add_middleware(KnownKeyFastPath)
    settings = runtime.settings
    app.add_middleware(
        BodyGate, media_bytes=settings.max_body_bytes, upload_bytes=LARGEST_UPLOAD,
        small_bytes=settings.max_small_body_bytes, shapes=DIALECT_ERRORS,
    )
    app.add_middleware(RequestObserver, observability=runtime.observability)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> JSONResponse:
        current = runtime_of(request)
        await execution.read(current, current.database.ping)
        return JSONResponse(
            {"status": "ok", "version": __version__, "workers": current.settings.workers}
        )

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _exempt_from_full_collections() -> None:
    """What exists once the server has started (modules, the app, the runtime) lives as long as the process.
    Frozen, the cyclic garbage collector no longer walks it in every full collection: with some 140,000
    objects that walk paused the event loop for 35-50 ms about once a second under load."""
    gc.collect()
    gc.freeze()


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    _, definitions = models_json_schema(
        [(route.params_model, "validation") for route in app.state.runtime.engines.routes()],
        ref_template="#/components/schemas/{model}",
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(definitions.get("$defs", {}))
    components["ErrorEnvelope"] = ERROR_ENVELOPE_SCHEMA
    for shape in DIALECT_ERRORS:
        components[shape.schema_name] = shape.schema
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            _document_errors(path, operation)
    app.openapi_schema = schema
    return schema


DIALECT_ERRORS: list[ErrorShape] = [openai_errors.SHAPE, gptproto_errors.SHAPE]
"""Each wire dialect's error shape, on the paths it owns (v3's envelope everywhere else)."""

ERROR_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "data", "error"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "data": {"type": "null"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "param": {"type": "string"},
            },
        },
    },
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid request, or blocked by the content policy (then `code` is 503)",
    "401": "Missing, unknown or revoked API key",
    "403": "Not permitted, or insufficient balance",
    "404": "Not found",
    "429": "Rate limit exceeded; see Retry-After",
    "500": "Internal server error",
}


def _document_errors(path: str, operation: dict[str, Any]) -> None:
    """Replaces FastAPI's 422 with the error envelope (or the dialect's error shape) every route really answers
    with."""
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    if path == "/healthz":
        return
    shape = shape_of_path(DIALECT_ERRORS, path)
    schema_name = shape.schema_name if shape is not None else "ErrorEnvelope"
    envelope = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}
    for status, description in ERROR_DESCRIPTIONS.items():
        responses.setdefault(status, {"description": description, "content": envelope})
