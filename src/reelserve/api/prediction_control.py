"""Cancelling and deleting predictions (WaveSpeed's routes and shapes)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from reelserve.api import execution
from reelserve.api.body import json_body_doc, read_model_body
from reelserve.api.dependencies import authenticated_key, runtime_of
from reelserve.api.envelope import success
from reelserve.api.predictions import prediction_object
from reelserve.errors import NotFound

router = APIRouter(tags=["predictions"])

MAX_IDS_PER_DELETE = 100


class DeleteMany(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=MAX_IDS_PER_DELETE, description="Prediction ids to delete")


@router.post("/api/v3/predictions/{prediction_id}/cancel", summary="Cancel a prediction that has not ended")
async def cancel_prediction(request: Request, prediction_id: str) -> JSONResponse:
    key = await authenticated_key(request)
    runtime = runtime_of(request)
    view = await execution.in_thread(runtime.predictions.cancel, key, prediction_id)
    return success(await prediction_object(request, view))


@router.delete("/api/v3/predictions/{prediction_id}", summary="Delete a prediction, its inputs and outputs")
async def delete_prediction(request: Request, prediction_id: str) -> JSONResponse:
    key = await authenticated_key(request)
    deleted = await execution.in_thread(runtime_of(request).predictions.delete, key, [prediction_id])
    if not deleted:
        raise NotFound(f"no prediction with id {prediction_id}")
    return success({"id": prediction_id, "status": "deleted"})


@router.post(
    "/api/v3/predictions/delete", summary="Delete several predictions", openapi_extra=json_body_doc(DeleteMany)
)
async def delete_predictions(request: Request) -> JSONResponse:
    key = await authenticated_key(request)
    runtime = runtime_of(request)
    body = await read_model_body(request, DeleteMany, runtime.settings.max_small_body_bytes)
    deleted = await execution.in_thread(runtime.predictions.delete, key, list(dict.fromkeys(body.ids)))
    return success({"deleted_count": len(deleted)})
