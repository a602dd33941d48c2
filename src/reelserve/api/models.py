"""`GET /api/v3/models`: each route, its parameters, and which engine serves it, honestly."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reelserve.api.dependencies import runtime_of
from reelserve.api.envelope import success
from reelserve.catalog.bindings import RouteBinding

ENGINE_DESCRIPTIONS = {
    "motion": "Camera-motion animation of the still image (zoom, pan, tilt, dolly); no generative model.",
    "diffusers": "An open-weight image-to-video model run through Hugging Face diffusers.",
}

router = APIRouter()


def describe(binding: RouteBinding) -> dict[str, Any]:
    engine = binding.engine
    engine_info: dict[str, Any] = {
        "name": binding.engine_name,
        "description": ENGINE_DESCRIPTIONS.get(binding.engine_name, ""),
        "capabilities": engine.capabilities.as_dict(),
    }
    family = getattr(engine, "family", None)
    if family is not None:
        engine_info["family"] = getattr(family, "name", str(family))
    route = binding.route
    return {
        "id": route.id,
        "name": route.title,
        "description": route.description,
        "type": "image-to-video",
        "endpoint": route.path,
        "parameters": sorted(route.features),
        "schema": route.json_schema(),
        "engine": engine_info,
        "price": {"per_second_usd": str(route.price_per_second)},
    }


@router.get("/api/v3/models", tags=["models"])
def list_models(request: Request) -> JSONResponse:
    return success([describe(binding) for binding in runtime_of(request).engines.all()])
