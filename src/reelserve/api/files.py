"""Stored files at signed, expiring URLs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from reelserve.api.dependencies import runtime_of
from reelserve.errors import NotFound, PermissionDenied
from reelserve.storage.local import InvalidKey

router = APIRouter()

MEDIA_TYPES = {".mp4": "video/mp4", ".wav": "audio/wav", ".png": "image/png", ".jpg": "image/jpeg"}


@router.get("/files/{key:path}", tags=["files"], include_in_schema=False)
def stored_file(request: Request, key: str, expires: str = "", signature: str = "") -> FileResponse:
    runtime = runtime_of(request)
    problem = runtime.signer.verify(key, expires, signature)
    if problem is not None:
        raise PermissionDenied(f"this file link is not valid: {problem}")
    try:
        path = runtime.storage.path_for(key)
    except InvalidKey:
        raise NotFound("no such file") from None
    if not path.is_file():
        raise NotFound("no such file")
    media_type = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, filename=path.name, content_disposition_type="inline")
