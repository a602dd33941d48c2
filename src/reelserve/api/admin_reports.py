"""`/admin/usage`, `/admin/failures`, `/admin/queues`: what the admin page shows besides the keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reelserve.api.dependencies import admin_key, runtime_of
from reelserve.api.envelope import success
from reelserve.api.presenters import rfc3339
from reelserve.api.routing import CheckedJsonRoute
from reelserve.catalog.routes import input_error_from
from reelserve.service.admin_reports import AdminReports

router = APIRouter(
    prefix="/admin", tags=["admin"], dependencies=[Depends(admin_key)], route_class=CheckedJsonRoute
)


class UsageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key_id: str | None = Field(default=None, max_length=64, description="One key's account; all accounts if absent")
    bucket: Literal["hour", "day"] = "day"
    since: datetime | None = Field(default=None, description="ISO 8601; by default 48 hours or 30 days back")
    until: datetime | None = Field(default=None, description="ISO 8601; by default now")

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


@router.get("/usage", summary="The ledger of a key's account (or of all) in hour or day buckets")
def usage(
    request: Request,
    key_id: str | None = Query(None),
    bucket: str = Query("day"),
    since: str | None = Query(None),
    until: str | None = Query(None),
) -> JSONResponse:
    values = {"key_id": key_id, "bucket": bucket, "since": since, "until": until}
    try:
        query = UsageQuery.model_validate({name: value for name, value in values.items() if value is not None})
    except ValidationError as exc:
        raise input_error_from(exc) from None
    found = AdminReports(runtime_of(request).database).usage(query.key_id, query.bucket, query.since, query.until)
    return success(
        {
            "key_id": found.key_id,
            "bucket": found.bucket,
            "since": rfc3339(found.since),
            "until": rfc3339(found.until),
            "opening_balance": found.opening_balance_usd,
            "items": [
                {
                    "start": rfc3339(item.start),
                    "spent": item.spent_usd,
                    "charged": item.charged_usd,
                    "refunded": item.refunded_usd,
                    "topped_up": item.topped_up_usd,
                    "jobs": item.jobs,
                    "balance": item.balance_usd,
                }
                for item in found.buckets
            ],
        }
    )


@router.get("/failures", summary="Recent predictions that failed or timed out, with their errors")
def failures(request: Request, limit: int = Query(20, ge=1, le=200)) -> JSONResponse:
    found = AdminReports(runtime_of(request).database).failures(limit)
    return success(
        [
            {
                "id": item.id,
                "key_id": item.key_id,
                "key_name": item.key_name,
                "model": item.model,
                "status": item.status,
                "error": item.error,
                "queue": item.queue,
                "created_at": rfc3339(item.created_at),
                "ended_at": rfc3339(item.ended_at) if item.ended_at else None,
            }
            for item in found
        ]
    )


@router.get("/queues", summary="Jobs waiting and running in each queue")
def queues(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    found = AdminReports(runtime.database).queues(runtime.engines.queues())
    return success(
        [
            {
                "queue": item.queue,
                "waiting": item.waiting,
                "running": item.running,
                "oldest_waiting_since": rfc3339(item.oldest_waiting_since) if item.oldest_waiting_since else None,
            }
            for item in found
        ]
    )
