"""The caller's money: balance, ledger, and what a request would cost."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from reelserve.api.dependencies import authenticated_key, runtime_of
from reelserve.api.envelope import success
from reelserve.api.presenters import rfc3339
from reelserve.api.routing import CheckedJsonRoute
from reelserve.catalog.params import field_or_none
from reelserve.catalog.routes import VOICE_MODEL_ID
from reelserve.errors import NotFound, echoed
from reelserve.service.keys import KeyInfo
from reelserve.service.money import micros_to_usd

router = APIRouter(tags=["account"], route_class=CheckedJsonRoute)


class PricingRequest(BaseModel):
    model_id: str = Field(description="A route id, e.g. kwaivgi/kling-v2.5-turbo-std/image-to-video")
    inputs: dict[str, Any] = Field(default_factory=dict, description="The request body you would send")


@router.get("/api/v3/balance")
def balance(request: Request, key: KeyInfo = Depends(authenticated_key)) -> JSONResponse:
    return success({"balance": runtime_of(request).billing.balance_usd(key), "currency": "USD"})


@router.get("/api/v3/account/billings")
def billings(
    request: Request,
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(20, ge=1, le=100),
    key: KeyInfo = Depends(authenticated_key),
) -> JSONResponse:
    ledger = runtime_of(request).billing.ledger(key, page, page_size)
    return success(
        {
            "items": [
                {
                    "id": line.id,
                    "type": line.kind,
                    "amount": line.amount_usd,
                    "balance_after": line.balance_after_usd,
                    "prediction_id": line.prediction_id,
                    "description": line.note,
                    "created_at": rfc3339(line.created_at),
                }
                for line in ledger.items
            ],
            "page": ledger.page,
            "page_size": ledger.page_size,
            "total": ledger.total,
        }
    )


@router.post("/api/v3/model/pricing")
def pricing(request: Request, body: PricingRequest, key: KeyInfo = Depends(authenticated_key)) -> JSONResponse:
    prices = runtime_of(request).prices
    if body.model_id == VOICE_MODEL_ID:
        price = prices.voice_creation_micros()
        return success({"model_id": body.model_id, "price": micros_to_usd(price), "currency": "USD", "unit": "voice"})
    route = runtime_of(request).engines.route(body.model_id)
    if route is None:
        raise NotFound(f"no model route {echoed(body.model_id)}")
    params = route.parse({"prompt": "pricing", **body.inputs})
    with_voices = bool(field_or_none(params, "voice_list"))
    price = prices.video_micros(route.id, params.duration, with_voices)
    return success(
        {
            "model_id": route.id,
            "price": micros_to_usd(price),
            "unit_price": float(prices.unit_price_usd(route.id, with_voices)),
            "unit": "second",
            "seconds": params.duration,
            "currency": "USD",
        }
    )
