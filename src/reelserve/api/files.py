"""Stored files at signed, expiring URLs: GET and HEAD, byte ranges, errors in the envelope."""

from __future__ import annotations

import stat
from pathlib import PurePosixPath

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.responses import MalformedRangeHeader
from starlette.responses import RangeNotSatisfiable as StarletteRangeNotSatisfiable

from reelserve.api.dependencies import runtime_of
from reelserve.api.routing import CheckedJsonRoute
from reelserve.errors import InputError, NotFound, PermissionDenied, RangeNotSatisfiable
from reelserve.storage.base import InvalidKey, Storage

router = APIRouter(route_class=CheckedJsonRoute)

MEDIA_TYPES = {
    ".mp4": "video/mp4", ".mov": "video/quicktime", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
}
# Browsers must take the Content-Type as it is, never guess HTML or script from a file's bytes.
SERVED_FILE_HEADERS = {"X-Content-Type-Options": "nosniff"}


class StoredFileResponse(FileResponse):
    """Starlette's FileResponse, whose refusals of a Range header become errors in the envelope (they are
    raised before anything is sent, so the app's error handlers answer them) instead of its plain-text answers."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader as exc:
            raise InputError(f"the Range header is malformed: {exc.content}", param="Range") from None
        except StarletteRangeNotSatisfiable:
            raise RangeNotSatisfiable(
                f"the Range header asks for bytes past the end of this {file_size}-byte file", size=file_size
            ) from None


@router.api_route("/files/{key:path}", methods=["GET", "HEAD"], tags=["files"], include_in_schema=False)
def stored_file(request: Request, key: str, expires: str = "", signature: str = "") -> Response:
    runtime = runtime_of(request)
    problem = runtime.signer.verify(key, expires, signature)
    if problem is not None:
        raise PermissionDenied(f"this file link is not valid: {problem}")
    return serve_stored(request, runtime.storage, key, PurePosixPath(key).name, "no such file")


def serve_stored(request: Request, storage: Storage, key: str, filename: str, missing: str) -> Response:
    """The stored file at `key` as the answer to a GET or HEAD (ranges and all), from local disk or streamed
    from a remote store; NotFound(`missing`) where there is none. Blocking: call it from a thread."""
    try:
        path = storage.local_file(key)
        found = path.stat() if path is not None else None
        size = found.st_size if found is not None else storage.size(key)
    except (InvalidKey, OSError):
        raise NotFound(missing) from None
    if size is None or (found is not None and not stat.S_ISREG(found.st_mode)):
        raise NotFound(missing)
    media_type = MEDIA_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")
    if path is not None:
        return StoredFileResponse(
            path, media_type=media_type, filename=filename, content_disposition_type="inline",
            headers=SERVED_FILE_HEADERS, stat_result=found,
        )
    return _streamed(request, storage, key, size, media_type, filename)


def _streamed(request: Request, storage: Storage, key: str, size: int, media_type: str, name: str) -> Response:
    """A file of a remote store, streamed through: one byte range at most (a request for several ranges is
    answered with the whole file, as HTTP allows)."""
    headers = {
        **SERVED_FILE_HEADERS, "Accept-Ranges": "bytes", "Content-Disposition": f'inline; filename="{name}"',
    }
    start, end, status = 0, size, 200
    requested = request.headers.get("range")
    if requested:
        ranges = StoredFileResponse._parse_range_header(requested, size)
        if len(ranges) == 1:
            (start, end), status = ranges[0], 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, media_type=media_type, headers=headers)
    return StreamingResponse(storage.iter_range(key, start, end), status_code=status, media_type=media_type,
                             headers=headers)
