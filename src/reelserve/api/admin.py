"""`/admin/...`: key management over HTTP, for keys with the admin role."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from reelserve.api import execution
from reelserve.api.dependencies import admin_key, runtime_of
from reelserve.api.envelope import success
from reelserve.api.predictions import prediction_object
from reelserve.api.presenters import rfc3339
from reelserve.api.routing import CheckedJsonRoute
from reelserve.service.admin_reports import AdminReports
from reelserve.service.keys import MAX_LIMIT, KeyInfo, KeyLimits

router = APIRouter(
    prefix="/admin", tags=["admin"], dependencies=[Depends(admin_key)], route_class=CheckedJsonRoute
)


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    balance: Decimal = Field(default=Decimal(0), ge=0, description="Opening balance in USD")
    rpm: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    models: list[str] | None = Field(default=None, max_length=100)
    role: Literal["user", "admin"] = "user"


class LimitChanges(BaseModel):
    """Only the fields sent change; null lifts a limit (the server's default applies)."""

    rpm: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_LIMIT)
    models: list[str] | None = Field(default=None, max_length=100)


class TopUp(BaseModel):
    amount: Decimal = Field(gt=0, description="USD to add")


def key_data(info: KeyInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "account_id": info.account_id,
        "role": info.role,
        "rpm": info.limits.rpm,
        "max_concurrency": info.limits.max_concurrency,
        "models": info.limits.models,
        "created_at": rfc3339(info.created_at),
        "revoked_at": rfc3339(info.revoked_at) if info.revoked_at else None,
    }


@router.post("/keys")
def create_key(request: Request, body: NewKey) -> JSONResponse:
    created = runtime_of(request).keys.create(
        body.name,
        balance_usd=body.balance,
        limits=KeyLimits(rpm=body.rpm, max_concurrency=body.max_concurrency, models=body.models),
        role=body.role,
    )
    return success({**key_data(created.info), "key": created.secret})


@router.get("/keys")
def list_keys(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    keys = runtime.keys.list()
    balances = AdminReports(runtime.database).balances()
    return success([{**key_data(info), "balance": balances.get(info.id, 0.0)} for info in keys])


@router.get("/keys/{key_id}")
def show_key(request: Request, key_id: str) -> JSONResponse:
    details = runtime_of(request).keys.show(key_id)
    return success({**key_data(details.info), "balance": details.balance_usd, "usage": details.usage})


@router.patch("/keys/{key_id}")
def change_limits(request: Request, key_id: str, body: LimitChanges) -> JSONResponse:
    limits = KeyLimits(rpm=body.rpm, max_concurrency=body.max_concurrency, models=body.models)
    return success(key_data(runtime_of(request).keys.set_limits(key_id, limits, body.model_fields_set)))


@router.post("/keys/{key_id}/topup")
def top_up(request: Request, key_id: str, body: TopUp) -> JSONResponse:
    balance = runtime_of(request).billing.top_up(key_id, str(body.amount))
    return success({"id": key_id, "balance": balance})


@router.post("/keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str) -> JSONResponse:
    return success(key_data(runtime_of(request).keys.revoke(key_id)))


@router.get("/predictions/{prediction_id}")
async def show_prediction(request: Request, prediction_id: str) -> JSONResponse:
    """Any key's prediction, with the key that made it and which engine served it (a provider's job id, cost,
    timings)."""
    runtime = runtime_of(request)
    view = await execution.read(runtime, runtime.predictions.any, prediction_id)
    data = await prediction_object(request, view)
    return success({**data, "key_id": view.key_id, "engine": view.engine_details})


@router.get("/workers")
def list_workers(request: Request) -> JSONResponse:
    """Every worker process as it last reported itself: host, routes, queues, jobs running, last heartbeat."""
    directory = runtime_of(request).workers
    workers = directory.list() if directory is not None else []
    return success([
        {
            "id": worker.id, "host": worker.host, "pid": worker.pid, "routes": worker.routes, "queues": worker.queues,
            "concurrency": worker.concurrency, "running": worker.running, "jobs_running": len(worker.running),
            "started_at": rfc3339(worker.started_at), "last_heartbeat_at": rfc3339(worker.last_heartbeat_at),
            "alive": worker.alive,
        }
        for worker in workers
    ])
