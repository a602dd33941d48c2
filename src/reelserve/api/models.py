"""`GET /api/v3/models`: each route, its parameters, its price, and which engine serves it, honestly."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reelserve.api.dependencies import runtime_of
from reelserve.api.envelope import success
from reelserve.api.routing import CheckedJsonRoute
from reelserve.catalog.bindings import RouteBinding, RouteEntry
from reelserve.catalog.prices import PriceList

ENGINE_DESCRIPTIONS = {
    "motion": "Camera-motion animation of the still image (zoom, pan, tilt, dolly); no generative model.",
    "diffusers": "An open-weight image-to-video model run through Hugging Face diffusers.",
    "upstream": "A hosted model, run by a provider on reelserve's behalf.",
}

SPEECH_DESCRIPTIONS = {
    "approximate": "espeak-ng speech moved toward each voice sample's pitch, pitch range, speaking rate and "
    "vocal-tract length with the WORLD vocoder; not a clone of the voice.",
    "vibevoice": "VibeVoice (transformers), cloning each voice from its sample; all lines in one pass.",
    "pocket-tts": "Kyutai Pocket TTS (transformers), cloning each voice from its sample.",
}

router = APIRouter(route_class=CheckedJsonRoute)


def describe_engine(binding: RouteBinding) -> dict[str, Any]:
    engine = binding.engine
    engine_info: dict[str, Any] = {
        "name": binding.engine_name,
        "description": ENGINE_DESCRIPTIONS.get(binding.engine_name, ""),
        # The speech stage after the engine speaks voice_list lines where the engine hands back frames.
        "capabilities": {**engine.capabilities.as_dict(), "voices": not engine.capabilities.encoded_output},
    }
    family = getattr(engine, "family", None)
    if family is not None:
        engine_info["family"] = getattr(family, "name", str(family))
    provider = getattr(engine, "provider_name", None)
    if provider is not None:
        engine_info["provider"] = provider
        engine_info["model"] = getattr(engine, "model", None)
    return engine_info


def describe(entry: RouteEntry, prices: PriceList) -> dict[str, Any]:
    route = entry.route
    described: dict[str, Any] = {
        "id": route.id,
        "name": route.title,
        "description": route.description,
        "type": route.kind,
        "schema_family": route.family,
        "endpoint": route.path,
        "aliases": list(route.aliases),
        "parameters": sorted(route.features),
        "schema": route.json_schema(),
        "engine": describe_engine(entry.bindings[0]),
        "speech": {
            "backend": entry.bindings[0].speech_options.backend,
            "voice_match": entry.bindings[0].speech_options.voice_match,
            "description": SPEECH_DESCRIPTIONS[entry.bindings[0].speech_options.backend],
        },
        "price": {"per_second_usd": str(prices.per_second_usd[route.id])},
    }
    if "voice_list" in route.features:
        described["price"]["voice_per_second_usd"] = str(prices.voice_per_second_usd)
    if len(entry.bindings) > 1:
        described["engines"] = [
            {
                "entry": binding.label,
                **describe_engine(binding),
                "price": {"per_second_usd": str(prices.per_binding_usd.get((route.id, binding.label), ""))},
            }
            for binding in entry.bindings
        ]
        described["spill_after_seconds"] = entry.spill_after_seconds
    return described


@router.get("/api/v3/models", tags=["models"])
def list_models(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    return success([describe(entry, runtime.prices) for entry in runtime.engines.entries()])
