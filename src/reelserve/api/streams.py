"""`GET /api/v3/predictions/{id}/stream`: Server-Sent Events of the prediction object, one on each change, ending
after the prediction has ended. Followers share one database read per tick (service/changes.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from reelserve.api.dependencies import authenticated_key, runtime_of
from reelserve.api.predictions import prediction_object
from reelserve.api.submitting import read_prediction
from reelserve.service.changes import Closing

router = APIRouter(tags=["predictions"])

KEEP_ALIVE_SECONDS = 15.0


@router.get(
    "/api/v3/predictions/{prediction_id}/stream",
    summary="Server-Sent Events of the prediction on each change, until it ends",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "`event: prediction` events"}},
)
async def stream_prediction(request: Request, prediction_id: str) -> StreamingResponse:
    key = await authenticated_key(request)
    first = await read_prediction(request, key, prediction_id)
    return StreamingResponse(
        _events(request, first), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(request: Request, first: object) -> AsyncIterator[bytes]:
    changes = runtime_of(request).changes.follow(first)  # type: ignore[arg-type]
    next_view = asyncio.ensure_future(anext(changes))
    try:
        while True:
            done, _ = await asyncio.wait({next_view}, timeout=KEEP_ALIVE_SECONDS)
            if not done:
                yield b": keep-alive\n\n"
                continue
            try:
                view = next_view.result()
            except (StopAsyncIteration, Closing):
                return
            data = orjson.dumps(await prediction_object(request, view))
            yield b"event: prediction\ndata: " + data + b"\n\n"
            if view.finished:
                return
            next_view = asyncio.ensure_future(anext(changes))
    finally:
        next_view.cancel()
        await changes.aclose()
