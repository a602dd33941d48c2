"""The generation routes and the result endpoints."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from reelserve.api import execution, submitting
from reelserve.api.body import read_json_body
from reelserve.api.dependencies import authenticated_key, count_request, public_base_url, runtime_of
from reelserve.api.envelope import success
from reelserve.api.presenters import prediction_data, sync_timeout_data
from reelserve.api.routing import CheckedJsonRoute
from reelserve.catalog.prices import PriceList
from reelserve.catalog.routes import ModelRoute
from reelserve.jobs.status import Status
from reelserve.observe.context import bind
from reelserve.service.changes import Closing
from reelserve.service.keys import KeyInfo
from reelserve.service.ratelimits import RateState
from reelserve.service.views import PredictionView

router = APIRouter(route_class=CheckedJsonRoute)



async def respond_to_submit(
    request: Request, key: KeyInfo, view: PredictionView, wait: bool, rate: RateState
) -> JSONResponse:
    """Answers at once, or, in sync mode, when the prediction ends, the server's wait runs out, or the server shuts
    down (then with the sync-timeout answer, so the client polls)."""
    runtime = runtime_of(request)
    if wait and not view.finished:
        view = await _until_ended(runtime.changes.follow(view), view, runtime.settings.sync_timeout_seconds)
    data = await prediction_object(request, view)
    if wait and not view.finished:
        data = sync_timeout_data(data)
    return success(data, headers=rate.headers())


async def _until_ended(changes: AsyncIterator[PredictionView], view: PredictionView, timeout: float) -> PredictionView:
    """The prediction once it has ended, or as it last was when `timeout` ran out or the server began to stop."""
    try:
        async with asyncio.timeout(timeout):
            async for changed in changes:
                view = changed
    except (TimeoutError, Closing):
        pass
    return view


async def prediction_object(request: Request, view: PredictionView) -> dict[str, Any]:
    """The prediction as the API shows it; outputs read and encoded in a thread where base64 was asked for."""
    runtime = runtime_of(request)
    encoded = None
    if view.wants_base64_outputs and view.status == Status.COMPLETED and view.outputs_expired_at is None:
        encoded = await execution.in_thread(_base64_outputs, runtime.predictions.output_bytes, view)
    return prediction_data(view, public_base_url(request), runtime.signer, base64_outputs=encoded)


def _base64_outputs(read: Callable[[PredictionView], list[bytes]], view: PredictionView) -> list[str]:
    return [base64.b64encode(data).decode() for data in read(view)]


async def submit_response(request: Request, route: ModelRoute, key: KeyInfo) -> JSONResponse:
    """What a generation route answers; the fast path (api/fast_path.py) gives it too. A refusal is counted by
    its reason (observe/job_events.py)."""
    runtime = runtime_of(request)
    with submitting.refusals_counted(route.id):
        rate = await count_request(request, key)
        body = await read_json_body(request, runtime.settings.max_body_bytes)
    accepted = await submitting.submit(request, key, route.id, body, webhook_param(request))
    return await respond_to_submit(request, key, accepted.view, accepted.wait, rate)


def webhook_param(request: Request) -> str | None:
    """`?webhook=URL`, percent-encoded as it should be, or not at all, as WaveSpeed's older JS client sends it: an
    unencoded URL runs to the end of the query string, `&`s and all."""
    query: str = request.scope.get("query_string", b"").decode("latin-1")
    for position in range(len(query)):
        if query.startswith("webhook=", position) and (position == 0 or query[position - 1] == "&"):
            value = query[position + len("webhook="):]
            if "://" in value:
                return value
            return unquote(value.split("&", 1)[0]) or None
    return None


def _submit_endpoint(route: ModelRoute) -> Callable[..., Awaitable[JSONResponse]]:
    # The key is looked up here rather than by FastAPI's dependency solving, which costs more than the
    # lookup; the routes declare no other parameters, so the OpenAPI document is the same either way.
    async def submit(request: Request) -> JSONResponse:
        return await submit_response(request, route, await authenticated_key(request))

    submit.__name__ = "submit_" + route.id.replace("/", "_").replace("-", "_").replace(".", "_")
    return submit


SUBMIT_QUERY = [
    {
        "name": "webhook", "in": "query", "required": False, "schema": {"type": "string", "format": "uri"},
        "description": "Called with the prediction object when the job ends (signed; see the README).",
    },
    {
        "name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 255},
        "description": "The same key and body within 24 hours answer the first prediction again, charged once.",
    },
]


def generation_router(routes: Iterable[ModelRoute], prices: PriceList) -> APIRouter:
    """One submit route per route of the configured catalog, each documented with its schema and price."""
    generation = APIRouter()
    for route in routes:
        price = prices.per_second_usd[route.id]
        generation.add_api_route(
            route.path,
            _submit_endpoint(route),
            methods=["POST"],
            summary=route.title,
            description=f"{route.description} Price: {price} USD per second of video.".strip(),
            tags=["generation"],
            openapi_extra={
                "parameters": SUBMIT_QUERY,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{route.params_model.__name__}"}
                        }
                    },
                },
                "x-price-per-second-usd": str(price),
            },
        )
    return generation


async def result_response(request: Request, prediction_id: str, key: KeyInfo) -> JSONResponse:
    bind(prediction_id=prediction_id)
    view = await submitting.read_prediction(request, key, prediction_id)
    return success(await prediction_object(request, view))


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
