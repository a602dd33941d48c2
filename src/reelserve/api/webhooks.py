"""Webhook secrets (WaveSpeed's `GET /api/v3/webhook/secret`) and each prediction's delivery attempts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reelserve.api import execution
from reelserve.api.dependencies import admin_key, authenticated_key, runtime_of
from reelserve.api.envelope import success
from reelserve.api.presenters import rfc3339
from reelserve.service.webhooks import DeliveryView

router = APIRouter(tags=["webhooks"])


@router.get("/api/v3/webhook/secret", summary="The secret that signs your webhooks (whsec_...)")
async def webhook_secret(request: Request) -> JSONResponse:
    key = await authenticated_key(request)
    return success({"secret": await execution.in_thread(runtime_of(request).webhook_secrets.of, key.id)})


@router.post("/api/v3/webhook/secret/rotate", summary="A new webhook secret; deliveries signed from now on use it")
async def rotate_webhook_secret(request: Request) -> JSONResponse:
    key = await authenticated_key(request)
    return success({"secret": await execution.in_thread(runtime_of(request).webhook_secrets.rotate, key.id)})


@router.post("/admin/keys/{key_id}/webhook-secret/rotate", tags=["admin"], summary="Rotate a key's webhook secret")
async def admin_rotate_webhook_secret(request: Request, key_id: str) -> JSONResponse:
    await admin_key(request)
    runtime = runtime_of(request)
    await execution.in_thread(runtime.keys.show, key_id)
    return success({"key_id": key_id, "secret": await execution.in_thread(runtime.webhook_secrets.rotate, key_id)})


@router.get("/api/v3/predictions/{prediction_id}/webhooks", tags=["predictions"],
            summary="Each webhook delivery of the prediction and its attempts")
async def prediction_webhooks(request: Request, prediction_id: str) -> JSONResponse:
    key = await authenticated_key(request)
    runtime = runtime_of(request)
    await execution.read(runtime, runtime.predictions.get, key, prediction_id)
    deliveries = await execution.in_thread(runtime.webhook_secrets.deliveries, key, prediction_id)
    return success({"items": [_delivery(delivery) for delivery in deliveries]})


def _delivery(delivery: DeliveryView) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "url": delivery.url,
        "status": delivery.status,
        "attempts": [
            {"at": rfc3339(attempt.at), "status_code": attempt.status_code, "error": attempt.error,
             "duration_ms": attempt.duration_ms}
            for attempt in delivery.attempts
        ],
        "next_attempt_at": rfc3339(delivery.next_attempt_at) if delivery.next_attempt_at else None,
        "delivered_at": rfc3339(delivery.delivered_at) if delivery.delivered_at else None,
    }
