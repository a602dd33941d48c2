"""GPTProto's unified video request onto a route's parameters, and a prediction back as the unified task result."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reelserve.api.errors import in_dialect_terms
from reelserve.api.gptproto.models import UnifiedVideoRequest
from reelserve.api.presenters import prediction_data, rfc3339
from reelserve.api.submitting import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, route_for, takes
from reelserve.catalog.bindings import RouteEngines
from reelserve.catalog.routes import ModelRoute
from reelserve.errors import InputError, echoed
from reelserve.jobs.status import Status
from reelserve.service.money import micros_to_usd
from reelserve.service.views import PredictionView
from reelserve.storage.signing import UrlSigner

STATUSES = {
    Status.CREATED: "pending", Status.PROCESSING: "in_progress", Status.COMPLETED: "completed",
    Status.FAILED: "failed", Status.CANCELLED: "cancelled", Status.TIMEOUT: "failed",
}
"""reelserve's status -> the unified one; `native_status` keeps reelserve's own."""

PROVIDER_SYNONYMS = {"kling": "kwaivgi", "kwaivgi": "kling", "alibaba": "wan", "wan": "alibaba"}
"""Provider slugs GPTProto takes for one another under `provider.options`."""

ALWAYS_ASYNC = ("enable_sync_mode", "enable_base64_output")
"""v3 switches the unified API has no place for: its tasks are polled, its results are URLs."""

PARAM_NAMES = {"image": "frame_images", "end_image": "frame_images", "sound": "generate_audio"}
"""A route parameter -> the unified field a refusal of it names (the others keep their names)."""


def kind_of(request: UnifiedVideoRequest) -> str:
    """The kind of video asked for: `mode`, else inferred as GPTProto does (a first frame: image-to-video)."""
    mode = request.mode.strip().lower()
    if mode in ("", "auto"):
        if _frame(request, "first_frame") is not None:
            return IMAGE_TO_VIDEO
        if request.input_references:
            raise InputError(
                "reference-to-video is not offered by this server; send the image as frame_images "
                "(frame_type first_frame)", param="input_references",
            )
        return TEXT_TO_VIDEO
    if mode in (IMAGE_TO_VIDEO, TEXT_TO_VIDEO):
        return mode
    raise InputError(
        f"mode {echoed(request.mode)} is not offered by this server: its routes make image-to-video and "
        "text-to-video", param="mode",
    )


def choose_route(engines: RouteEngines, request: UnifiedVideoRequest, kind: str) -> ModelRoute:
    route = route_for(engines, request.model, kind)
    if route is None:
        raise InputError(
            f"unknown video model: {echoed(request.model)} (GET /api/v3/models lists this server's routes; the "
            "README their model slugs)", param="model",
        )
    return route


def route_body(route: ModelRoute, request: UnifiedVideoRequest, kind: str) -> dict[str, Any]:
    """Provider options first, the unified fields over them; a unified setting the route has no parameter for is
    ignored, as GPTProto ignores what a provider does not support."""
    body: dict[str, Any] = {}
    for slug in _option_slugs(request.model, route):
        option = (request.provider.options or {}).get(slug) if request.provider is not None else None
        if option is not None:
            body.update(option.parameters)
    for name in ALWAYS_ASYNC:
        body.pop(name, None)
    body["prompt"] = request.prompt
    settings = {
        "duration": request.duration, "aspect_ratio": request.aspect_ratio, "resolution": request.resolution,
        "seed": request.seed, "negative_prompt": request.negative_prompt, "sound": request.generate_audio,
        "size": request.size.replace("x", "*") if request.size else None,
    }
    for name, value in settings.items():
        if value is not None and value != "auto" and takes(route, name):
            body[name] = value
    first, last = _frame(request, "first_frame"), _frame(request, "last_frame")
    if first is None and kind == IMAGE_TO_VIDEO:
        first = _reference_as_first_frame(request)
    elif request.input_references:
        raise InputError("input_references are not used by this server's routes", param="input_references")
    if first is not None:
        body["image"] = first
    if last is not None:
        body["end_image"] = last
    return body


def in_unified_terms(exc: InputError) -> InputError:
    return in_dialect_terms(exc, PARAM_NAMES)


def task_result(view: PredictionView, base_url: str, signer: UrlSigner) -> dict[str, Any]:
    data = prediction_data(view, base_url, signer)
    result: dict[str, Any] = {
        "id": view.id,
        "status": STATUSES.get(view.status, "failed"),
        "polling_url": f"/api/v3/tasks/result/{view.id}",
        "model": view.model,
        "native_status": view.status,
        "unsigned_urls": data["outputs"],
        "created_at": data["created_at"],
        "progress": view.progress,
        "usage": {"cost": micros_to_usd(view.price_micros), "currency": "USD",
                  "video_seconds": view.params.get("duration")},
        "timings": {"inference_ms": view.inference_ms, "total_ms": view.execution_ms},
    }
    if data["error"] is not None:
        result["error"] = data["error"]
    if view.finished:
        result["completed_at"] = rfc3339(view.created_at + timedelta(milliseconds=view.execution_ms))
    return result


def _frame(request: UnifiedVideoRequest, frame_type: str) -> str | None:
    frames = [frame for frame in request.frame_images or [] if frame.frame_type == frame_type]
    if len(frames) > 1:
        raise InputError(f"frame_images holds more than one {frame_type}", param="frame_images")
    return frames[0].image_url.url if frames else None


def _reference_as_first_frame(request: UnifiedVideoRequest) -> str | None:
    """With mode image-to-video and no first frame, one image reference serves as the first frame."""
    references = request.input_references or []
    if not references:
        return None
    if len(references) > 1 or references[0].type != "image_url":
        raise InputError(
            "input_references: this server takes one image reference, as the first frame", param="input_references"
        )
    return references[0].image_url.url


def _option_slugs(model: str, route: ModelRoute) -> list[str]:
    """The provider slugs whose options apply: the model slug's provider and the route's owner, and their synonyms."""
    slugs: list[str] = []
    for owner in (model.split("/", 1)[0], route.id.split("/", 1)[0]):
        for slug in (owner, PROVIDER_SYNONYMS.get(owner)):
            if slug and slug not in slugs:
                slugs.append(slug)
    return slugs
