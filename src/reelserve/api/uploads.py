"""Upload endpoints, compatible with WaveSpeed's: one-step multipart, and announce-then-PUT."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from reelserve.api.body import read_capped_body
from reelserve.api.dependencies import authenticated_key, count_request, public_base_url, runtime_of
from reelserve.api.envelope import success
from reelserve.api.presenters import rfc3339
from reelserve.api.routing import CheckedJsonRoute
from reelserve.service.keys import KeyInfo
from reelserve.service.uploads import UploadView

router = APIRouter(tags=["uploads"], route_class=CheckedJsonRoute)


class UploadAnnouncement(BaseModel):
    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(gt=0, description="The file's size in bytes")
    content_type: str | None = Field(default=None, max_length=100)


def upload_data(view: UploadView, base_url: str) -> dict[str, Any]:
    return {
        "id": view.id,
        "type": view.kind,
        "download_url": base_url.rstrip("/") + view.download_path,
        "filename": view.filename,
        "size": view.size,
        "content_type": view.content_type,
        "expires_at": rfc3339(view.expires_at),
    }


@router.post("/api/v3/media/upload/binary")
async def upload_binary(
    request: Request, file: UploadFile = File(...), key: KeyInfo = Depends(authenticated_key)
) -> JSONResponse:
    rate = await count_request(request, key)
    data = await file.read()
    view = await run_in_threadpool(
        runtime_of(request).uploads.store, key, file.filename, file.content_type, data
    )
    return success(upload_data(view, public_base_url(request)), headers=rate.headers())


@router.post("/api/v3/media/uploads")
async def announce_upload(
    request: Request, body: UploadAnnouncement, key: KeyInfo = Depends(authenticated_key)
) -> JSONResponse:
    rate = await count_request(request, key)
    uploads = runtime_of(request).uploads
    pending = await run_in_threadpool(uploads.begin, key, body.filename, body.size, body.content_type)
    base_url = public_base_url(request).rstrip("/")
    return success(
        {
            **upload_data(pending.upload, base_url),
            "upload": {
                "method": "PUT",
                "url": base_url + pending.put_path,
                "headers": {"Content-Type": pending.content_type},
            },
        },
        headers=rate.headers(),
    )


@router.put("/api/v3/media/uploads/{upload_id}")
async def receive_upload(request: Request, upload_id: str, expires: str = "", signature: str = "") -> JSONResponse:
    uploads = runtime_of(request).uploads
    limit = await run_in_threadpool(uploads.claim, upload_id, expires, signature)
    too_large = f"the body is larger than the {limit} bytes announced for this upload"
    try:
        body = await read_capped_body(request, limit, too_large)
    except Exception:
        await run_in_threadpool(uploads.release, upload_id)
        raise
    view = await run_in_threadpool(uploads.receive, upload_id, body)
    return success(upload_data(view, public_base_url(request)))
