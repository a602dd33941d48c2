"""Custom voices: the seed's creation route, and listing, showing and deleting the caller's voices."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from reelserve.api.body import read_json_body
from reelserve.api.dependencies import authenticated_key, count_request, public_base_url, runtime_of
from reelserve.api.envelope import success
from reelserve.api.execution import fetch_pool
from reelserve.api.predictions import respond_to_submit
from reelserve.api.presenters import rfc3339
from reelserve.api.routing import CheckedJsonRoute
from reelserve.catalog.routes import VOICE_MODEL_ID
from reelserve.service.keys import KeyInfo
from reelserve.service.voices import VoiceInfo

router = APIRouter(tags=["voices"], route_class=CheckedJsonRoute)


def voice_data(voice: VoiceInfo, request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    return {
        "id": voice.id,
        "voice_id": voice.id,
        "name": voice.name,
        "duration": voice.duration_seconds,
        "created_at": rfc3339(voice.created_at),
        "sample_url": runtime.signer.url_for(voice.sample_key, public_base_url(request)),
    }


@router.post(f"/api/v3/{VOICE_MODEL_ID}/create_voice", summary="Create a custom voice from 5 to 30 s of speech")
async def create_voice(request: Request, key: KeyInfo = Depends(authenticated_key)) -> JSONResponse:
    runtime = runtime_of(request)
    rate = await count_request(request, key)
    body = await read_json_body(request, runtime.settings.max_body_bytes)
    # The sample may be a URL to fetch: like image fetches, it takes a thread of the bounded fetch pool.
    view, wait = await fetch_pool(request).run(key, runtime.voices.submit, key, body)
    return await respond_to_submit(request, key, view, wait, rate)


@router.get("/api/v3/voices")
def list_voices(request: Request, key: KeyInfo = Depends(authenticated_key)) -> JSONResponse:
    return success([voice_data(voice, request) for voice in runtime_of(request).voices.list(key)])


@router.get("/api/v3/voices/{voice_id}")
def show_voice(request: Request, voice_id: str, key: KeyInfo = Depends(authenticated_key)) -> JSONResponse:
    return success(voice_data(runtime_of(request).voices.get(key, voice_id), request))


@router.delete("/api/v3/voices/{voice_id}")
def delete_voice(request: Request, voice_id: str, key: KeyInfo = Depends(authenticated_key)) -> JSONResponse:
    runtime_of(request).voices.delete(key, voice_id)
    return success({"id": voice_id, "deleted": True})
