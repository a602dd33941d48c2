"""`/v1/videos`: OpenAI's Videos API over the same predictions as v3 (create, retrieve, list, delete, content,
remix). Every route authenticates before it reads a body; creates and remixes count against the key's rate."""

from __future__ import annotations

import base64
from pathlib import PurePosixPath
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from reelserve.api import execution
from reelserve.api.body import json_body_doc, read_json_body
from reelserve.api.dependencies import authenticated_key, count_request, runtime_of
from reelserve.api.envelope import EnvelopeResponse
from reelserve.api.files import serve_stored
from reelserve.api.openai.mapping import (
    choose_route,
    content_key,
    in_openai_terms,
    poll_after_ms,
    route_body,
    video_object,
)
from reelserve.api.openai.models import (
    InputReference,
    Video,
    VideoCreate,
    VideoDeleted,
    VideoList,
    VideoListQuery,
    VideoRemix,
)
from reelserve.api.schemas import inline_schema
from reelserve.api.submitting import read_prediction, submit, submit_again
from reelserve.catalog.routes import input_error_from
from reelserve.errors import InputError, NotFound
from reelserve.media.image import MAX_INLINE_BYTES
from reelserve.service.inputs import LIGHT_IMAGE_BYTES
from reelserve.service.views import PredictionView
from reelserve.store.predictions import HistoryFilter

router = APIRouter(tags=["openai videos"])

M = TypeVar("M", bound=BaseModel)
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
MAX_FORM_FIELDS = 32
REFERENCE_FIELD = "input_reference"
POLL_AFTER_HEADER = "openai-poll-after-ms"

CREATE_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": inline_schema(VideoCreate)},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["prompt"],
                    "properties": {
                        "prompt": {"type": "string"}, "model": {"type": "string"}, "seconds": {"type": "string"},
                        "size": {"type": "string"},
                        "input_reference": {"type": "string", "format": "binary",
                                            "description": "The first frame: a JPEG, PNG or WebP file."},
                        "input_reference[image_url]": {"type": "string"},
                    },
                }
            },
        },
    },
    "parameters": [
        {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 255},
         "description": "The same key and request within 24 hours answer the first video again, charged once."},
    ],
}
REMIX_DOC: dict[str, Any] = {**json_body_doc(VideoRemix), "parameters": CREATE_DOC["parameters"]}
CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The MP4 (variant=video) or a JPEG of a frame (variant=thumbnail)",
        "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}},
                    "image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/v1/videos", summary="Create a video", responses={200: {"model": Video}}, openapi_extra=CREATE_DOC)
async def create_video(request: Request) -> JSONResponse:
    key = await authenticated_key(request)
    rate = await count_request(request, key)
    create, image = await _read_create(request)
    runtime = runtime_of(request)
    route = choose_route(runtime.engines, create.model, image is not None)
    try:
        body = route_body(route, create.prompt, create.seconds, create.size, image)
        view = (await submit(request, key, route.id, body)).view
    except InputError as exc:
        raise in_openai_terms(exc, create.size) from None
    return _video_response(request, view, rate.headers())


@router.get("/v1/videos", summary="List your videos", responses={200: {"model": VideoList}})
async def list_videos(
    request: Request, after: str | None = Query(None), limit: str | None = Query(None),
    order: str | None = Query(None),
) -> JSONResponse:
    key = await authenticated_key(request)
    values = {"after": after, "limit": limit, "order": order}
    query = _validated(VideoListQuery, {name: value for name, value in values.items() if value is not None})
    if query.after is not None:
        await read_prediction(request, key, query.after)
    runtime = runtime_of(request)
    where = HistoryFilter(key_id=key.id, oldest_first=query.order == "asc", after_id=query.after)
    page = await execution.read(runtime, runtime.predictions.history, key, where, 1, query.limit + 1)
    shown = page.items[: query.limit]
    retention = runtime.settings.output_retention_seconds
    return EnvelopeResponse({
        "object": "list", "data": [video_object(view, retention) for view in shown],
        "first_id": shown[0].id if shown else None, "last_id": shown[-1].id if shown else None,
        "has_more": len(page.items) > query.limit,
    })


@router.get("/v1/videos/{video_id}", summary="Retrieve a video", responses={200: {"model": Video}})
async def retrieve_video(request: Request, video_id: str) -> JSONResponse:
    key = await authenticated_key(request)
    view = await read_prediction(request, key, video_id)
    headers = {} if view.finished else {POLL_AFTER_HEADER: str(poll_after_ms(view))}
    return _video_response(request, view, headers)


@router.delete("/v1/videos/{video_id}", summary="Delete a video and its files",
               responses={200: {"model": VideoDeleted}})
async def delete_video(request: Request, video_id: str) -> JSONResponse:
    key = await authenticated_key(request)
    deleted = await execution.in_thread(runtime_of(request).predictions.delete, key, [video_id])
    if not deleted:
        raise NotFound.no_such("video", video_id)
    return EnvelopeResponse({"id": video_id, "object": "video.deleted", "deleted": True})


@router.get("/v1/videos/{video_id}/content", summary="Download a video's MP4 or thumbnail",
            response_class=Response, responses=CONTENT_RESPONSES)
async def video_content(request: Request, video_id: str, variant: str = Query("video")) -> Response:
    key = await authenticated_key(request)
    view = await read_prediction(request, key, video_id)
    stored = content_key(view, variant)
    filename = f"{view.id}{PurePosixPath(stored).suffix}"
    return await execution.in_thread(
        serve_stored, request, runtime_of(request).storage, stored, filename, f"video {view.id} has no {variant}"
    )


@router.post("/v1/videos/{video_id}/remix", summary="Make a video again with a new prompt",
             responses={200: {"model": Video}}, openapi_extra=REMIX_DOC)
async def remix_video(request: Request, video_id: str) -> JSONResponse:
    key = await authenticated_key(request)
    rate = await count_request(request, key)
    fields, _ = await _read_fields(request)
    remix = _validated(VideoRemix, fields)
    try:
        view = (await submit_again(request, key, video_id, {"prompt": remix.prompt})).view
    except InputError as exc:
        raise in_openai_terms(exc, None) from None
    return _video_response(request, view, rate.headers())


def _video_response(request: Request, view: PredictionView, headers: dict[str, str]) -> JSONResponse:
    retention = runtime_of(request).settings.output_retention_seconds
    return EnvelopeResponse(video_object(view, retention), headers=headers)


async def _read_create(request: Request) -> tuple[VideoCreate, str | None]:
    """The request, and its first frame as the route's `image` takes it (a URL, or base64 of a sent file)."""
    fields, file_data = await _read_fields(request)
    create = _validated(VideoCreate, fields)
    reference = create.input_reference
    if isinstance(reference, str):
        reference = InputReference(image_url=reference)
    if reference is not None and reference.file_id is not None:
        raise InputError(
            "input_reference.file_id is not supported by this server: send the image as the input_reference file, "
            "or as image_url (a URL, a data: URL, or the download_url of POST /api/v3/media/upload/binary)",
            param="input_reference",
        )
    url = reference.image_url if reference is not None else None
    if file_data is not None and url is not None:
        raise InputError("send input_reference as a file or as image_url, not both", param="input_reference")
    if file_data is not None:
        if len(file_data) > LIGHT_IMAGE_BYTES:
            return create, (await execution.in_thread(base64.b64encode, file_data)).decode()
        return create, base64.b64encode(file_data).decode()
    return create, url


async def _read_fields(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """The body's fields (JSON, multipart or URL-encoded) and the bytes of an `input_reference` file."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    max_bytes = runtime_of(request).settings.max_body_bytes
    if media_type not in FORM_TYPES:
        body = await read_json_body(request, max_bytes)
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object")
        return body, None
    fields: dict[str, Any] = {}
    reference: dict[str, str] = {}
    file_data = None
    async with request.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=max_bytes) as form:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != REFERENCE_FIELD:
                    raise InputError(f"only input_reference may be a file (got a file in {name!r})", param=name)
                file_data = await _file_bytes(value)
            elif name.startswith(REFERENCE_FIELD + "[") and name.endswith("]"):
                reference[name[len(REFERENCE_FIELD) + 1:-1]] = value
            else:
                fields[name] = value
    if reference:
        fields[REFERENCE_FIELD] = reference
    return fields, file_data


async def _file_bytes(upload: UploadFile) -> bytes:
    if upload.size is not None and upload.size > MAX_INLINE_BYTES:
        raise InputError(f"input_reference is larger than {MAX_INLINE_BYTES} bytes", param=REFERENCE_FIELD)
    data = await upload.read(MAX_INLINE_BYTES + 1)
    if len(data) > MAX_INLINE_BYTES:
        raise InputError(f"input_reference is larger than {MAX_INLINE_BYTES} bytes", param=REFERENCE_FIELD)
    if not data:
        raise InputError("input_reference is an empty file", param=REFERENCE_FIELD)
    return data


def _validated(model: type[M], fields: dict[str, Any]) -> M:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise input_error_from(exc) from None
