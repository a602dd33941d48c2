"""`/admin/...`: key management over HTTP, for keys with the admin role."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from reelserve.api.dependencies import admin_key, runtime_of
from reelserve.api.envelope import success
from reelserve.api.presenters import rfc3339
from reelserve.service.keys import KeyInfo, KeyLimits

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(admin_key)])


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    balance: Decimal = Field(default=Decimal(0), ge=0, description="Opening balance in USD")
    rpm: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    models: list[str] | None = None
    role: Literal["user", "admin"] = "user"


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
    return success([key_data(info) for info in runtime_of(request).keys.list()])


@router.get("/keys/{key_id}")
def show_key(request: Request, key_id: str) -> JSONResponse:
    details = runtime_of(request).keys.show(key_id)
    return success({**key_data(details.info), "balance": details.balance_usd, "usage": details.usage})


@router.post("/keys/{key_id}/topup")
def top_up(request: Request, key_id: str, body: TopUp) -> JSONResponse:
    balance = runtime_of(request).billing.top_up(key_id, str(body.amount))
    return success({"id": key_id, "balance": balance})


@router.post("/keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: str) -> JSONResponse:
    return success(key_data(runtime_of(request).keys.revoke(key_id)))
