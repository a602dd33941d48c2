"""The caller's predictions, a page at a time (WaveSpeed's `POST /api/v3/predictions`, and the same as GET)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reelserve.api import execution
from reelserve.api.body import json_body_doc, read_model_body
from reelserve.api.dependencies import authenticated_key, runtime_of
from reelserve.api.envelope import success
from reelserve.api.predictions import prediction_object
from reelserve.catalog.routes import input_error_from
from reelserve.jobs.status import Status
from reelserve.service.keys import KeyInfo
from reelserve.store.predictions import HistoryFilter

router = APIRouter(tags=["predictions"])

MAX_PAGE = 1_000_000


class HistoryQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=MAX_PAGE)
    page_size: int = Field(default=20, ge=1, le=100)
    model: str | None = Field(default=None, max_length=200, description="Only this route's predictions")
    status: Status | None = Field(default=None, description="Only predictions with this status")
    created_after: datetime | None = Field(default=None, description="ISO 8601; UTC when no offset is given")
    created_before: datetime | None = Field(default=None, description="ISO 8601; UTC when no offset is given")

    @field_validator("created_after", "created_before")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


async def _page(request: Request, key: KeyInfo, query: HistoryQuery) -> JSONResponse:
    runtime = runtime_of(request)
    where = HistoryFilter(
        key_id=key.id, model=query.model, status=query.status.value if query.status else None,
        created_after=query.created_after, created_before=query.created_before,
    )
    page = await execution.read(runtime, runtime.predictions.history, key, where, query.page, query.page_size)
    items = [await prediction_object(request, item) for item in page.items]
    data = {"page": page.page, "page_size": page.page_size, "total": page.total, "items": items}
    if page.total_is_at_least:
        data["total_is_at_least"] = True
    return success(data)


@router.post("/api/v3/predictions", summary="A page of your predictions, newest first",
             openapi_extra=json_body_doc(HistoryQuery))
async def history(request: Request) -> JSONResponse:
    key = await authenticated_key(request)
    query = await read_model_body(request, HistoryQuery, runtime_of(request).settings.max_small_body_bytes)
    return await _page(request, key, query)


@router.get("/api/v3/predictions", summary="A page of your predictions, newest first (as query parameters)")
async def history_by_query(
    request: Request,
    page: int = Query(1),
    page_size: int = Query(20),
    model: str | None = Query(None),
    status: str | None = Query(None),
    created_after: str | None = Query(None),
    created_before: str | None = Query(None),
) -> JSONResponse:
    key = await authenticated_key(request)
    values = {"page": page, "page_size": page_size, "model": model, "status": status,
              "created_after": created_after, "created_before": created_before}
    try:
        query = HistoryQuery.model_validate({name: value for name, value in values.items() if value is not None})
    except ValidationError as exc:
        raise input_error_from(exc) from None
    return await _page(request, key, query)
