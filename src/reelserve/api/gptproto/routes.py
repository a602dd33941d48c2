"""GPTProto's unified video routes over the same predictions as v3: submit (202 with the task), and two polls."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reelserve.api.body import json_body_doc, read_model_body
from reelserve.api.dependencies import authenticated_key, count_request, public_base_url, runtime_of
from reelserve.api.envelope import EnvelopeResponse
from reelserve.api.gptproto.mapping import choose_route, in_unified_terms, kind_of, route_body, task_result
from reelserve.api.gptproto.models import UnifiedTaskResult, UnifiedVideoRequest
from reelserve.api.predictions import SUBMIT_QUERY, webhook_param
from reelserve.api.submitting import read_prediction, submit
from reelserve.errors import InputError
from reelserve.service.views import PredictionView

router = APIRouter(tags=["gptproto unified"])

SUBMIT_DOC: dict[str, Any] = {**json_body_doc(UnifiedVideoRequest), "parameters": SUBMIT_QUERY}


@router.post("/api/v3/videos", summary="Submit a video task (GPTProto unified)", status_code=202,
             responses={202: {"model": UnifiedTaskResult}}, openapi_extra=SUBMIT_DOC)
async def create_video_task(request: Request) -> JSONResponse:
    key = await authenticated_key(request)
    rate = await count_request(request, key)
    runtime = runtime_of(request)
    unified = await read_model_body(request, UnifiedVideoRequest, runtime.settings.max_body_bytes)
    kind = kind_of(unified)
    route = choose_route(runtime.engines, unified, kind)
    try:
        view = (await submit(request, key, route.id, route_body(route, unified, kind), webhook_param(request))).view
    except InputError as exc:
        raise in_unified_terms(exc) from None
    return _result(request, view, status=202, headers=rate.headers())


@router.get("/api/v3/videos/{task_id}", summary="A video task (GPTProto unified)",
            responses={200: {"model": UnifiedTaskResult}})
@router.get("/api/v3/tasks/result/{task_id}", summary="A task's result (GPTProto unified)",
            responses={200: {"model": UnifiedTaskResult}})
async def video_task(request: Request, task_id: str) -> JSONResponse:
    key = await authenticated_key(request)
    return _result(request, await read_prediction(request, key, task_id))


def _result(
    request: Request, view: PredictionView, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    data = task_result(view, public_base_url(request), runtime_of(request).signer)
    return EnvelopeResponse(data, status_code=status, headers=headers)
