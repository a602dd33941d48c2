"""The generation routes and the result endpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from reelserve.api.body import read_json_body
from reelserve.api.dependencies import (
    authenticated_key,
    call_reading,
    count_request,
    public_base_url,
    runtime_of,
)
from reelserve.api.envelope import success
from reelserve.api.presenters import prediction_data
from reelserve.catalog.routes import ROUTES, ModelRoute
from reelserve.errors import WouldBlock
from reelserve.service.keys import KeyInfo
from reelserve.service.ratelimits import RateState
from reelserve.service.views import PredictionView

SYNC_POLL_SECONDS = 0.2
SYNC_TIMEOUT_MESSAGE = "Sync mode timed out"

router = APIRouter()


async def respond_to_submit(
    request: Request, key: KeyInfo, view: PredictionView, wait: bool, rate: RateState
) -> JSONResponse:
    """Answers at once, or, in sync mode, when the prediction ends or the server's wait runs out."""
    runtime = runtime_of(request)
    base_url = public_base_url(request)
    if wait:
        deadline = time.monotonic() + runtime.settings.sync_timeout_seconds
        while not view.finished and time.monotonic() < deadline:
            await asyncio.sleep(SYNC_POLL_SECONDS)
            view = await read_prediction(request, key, view.id)
    if wait and not view.finished:
        data = prediction_data(
            view, base_url, runtime.signer, error_override=SYNC_TIMEOUT_MESSAGE, status_override="processing"
        )
    else:
        data = prediction_data(view, base_url, runtime.signer)
    return success(data, headers=rate.headers())


async def submit_response(request: Request, route: ModelRoute, key: KeyInfo) -> JSONResponse:
    """What a generation route answers; the fast path (api/fast_path.py) gives it too."""
    runtime = runtime_of(request)
    rate = await count_request(request, key)
    body = await read_json_body(request, runtime.settings.max_body_bytes)
    try:
        prepared = runtime.predictions.prepare(key, route.id, body, may_wait=False)
    except WouldBlock:
        prepared = await run_in_threadpool(runtime.predictions.prepare, key, route.id, body)
    view = await runtime.predictions.accept(prepared)
    return await respond_to_submit(request, key, view, prepared.wait, rate)


def _submit_endpoint(route: ModelRoute) -> Callable[..., Awaitable[JSONResponse]]:
    # The key is looked up here rather than by FastAPI's dependency solving, which costs more than the
    # lookup; the routes declare no other parameters, so the OpenAPI document is the same either way.
    async def submit(request: Request) -> JSONResponse:
        return await submit_response(request, route, await authenticated_key(request))

    submit.__name__ = "submit_" + route.id.replace("/", "_").replace("-", "_").replace(".", "_")
    return submit


for _route in ROUTES.values():
    router.add_api_route(
        _route.path,
        _submit_endpoint(_route),
        methods=["POST"],
        summary=_route.title,
        description=_route.description,
        tags=["generation"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{_route.params_model.__name__}"}}
                },
            }
        },
    )


async def read_prediction(request: Request, key: KeyInfo, prediction_id: str) -> PredictionView:
    predictions = runtime_of(request).predictions
    return await call_reading(predictions.reads_are_instant, predictions.get, key, prediction_id)


async def result_response(request: Request, prediction_id: str, key: KeyInfo) -> JSONResponse:
    view = await read_prediction(request, key, prediction_id)
    return success(prediction_data(view, public_base_url(request), runtime_of(request).signer))


@router.get("/api/v3/predictions/{prediction_id}/result", tags=["predictions"])
async def prediction_result(
    request: Request, prediction_id: str, key: KeyInfo = Depends(authenticated_key)
) -> JSONResponse:
    return await result_response(request, prediction_id, key)


@router.get("/api/v3/predictions/{prediction_id}", tags=["predictions"])
async def prediction(
    request: Request, prediction_id: str, key: KeyInfo = Depends(authenticated_key)
) -> JSONResponse:
    return await result_response(request, prediction_id, key)
