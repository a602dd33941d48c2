"""OpenAI's video request onto a route's parameters, and a prediction back as OpenAI's video object."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from reelserve.api.errors import in_dialect_terms
from reelserve.api.submitting import IMAGE_TO_VIDEO, TEXT_TO_VIDEO, route_for, takes
from reelserve.catalog.bindings import RouteEngines
from reelserve.catalog.routes import ModelRoute
from reelserve.errors import InputError, NotFound, echoed
from reelserve.jobs.status import Status
from reelserve.service.views import PredictionView

DEFAULT_ROUTE = "kwaivgi/kling-v2.5-turbo-std/image-to-video"
"""The route of a request that names no model (OpenAI's own default, sora-2, is not served here)."""

STATUSES = {Status.CREATED: "queued", Status.PROCESSING: "in_progress", Status.COMPLETED: "completed"}
"""reelserve's status -> OpenAI's; every other (failed, cancelled, timeout) is `failed`, with the error."""

PARAM_NAMES = {"duration": "seconds", "aspect_ratio": "size", "size": "size", "resolution": "size",
               "image": "input_reference", "prompt": "prompt"}
"""A route parameter -> the OpenAI field a refusal of it names."""

NOMINAL_SHORT_SIDE = {"480p": 480, "720p": 720, "1080p": 1080}
DEFAULT_SHORT_SIDE = 720


def choose_route(engines: RouteEngines, model: str | None, has_image: bool) -> ModelRoute:
    name = model or DEFAULT_ROUTE
    route = route_for(engines, name, IMAGE_TO_VIDEO if has_image else TEXT_TO_VIDEO)
    if route is None:
        raise InputError(
            f"the model {echoed(name)} is neither a route of this server nor an alias of one; "
            "GET /api/v3/models lists them", param="model",
        )
    return route


def route_body(
    route: ModelRoute, prompt: str, seconds: str | None, size: str | None, image: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": prompt}
    if image is not None:
        body["image"] = image
    if seconds is not None:
        body["duration"] = int(seconds)
    if size is not None:
        body.update(size_params(route, size))
    return body


def size_params(route: ModelRoute, size: str) -> dict[str, Any]:
    """`WIDTHxHEIGHT` as the route takes a frame size: `size`, else its aspect ratio and resolution."""
    width, height = (int(part) for part in size.split("x", 1))
    if takes(route, "size"):
        return {"size": f"{width}*{height}"}
    found: dict[str, Any] = {}
    if takes(route, "aspect_ratio"):
        ratio = Fraction(width, height)
        found["aspect_ratio"] = f"{ratio.numerator}:{ratio.denominator}"
    if takes(route, "resolution"):
        found["resolution"] = f"{min(width, height)}p"
    if not found:
        raise InputError(
            f"{route.id} takes the frame size from its input image; leave size out", param="size"
        )
    return found


def in_openai_terms(exc: InputError, size: str | None) -> InputError:
    """A route's refusal, naming the OpenAI field that carried the parameter (`size` with the size asked for)."""
    return in_dialect_terms(exc, PARAM_NAMES, {"size": f"size {size}"} if size is not None else None)


def video_object(view: PredictionView, retention_seconds: int) -> dict[str, Any]:
    params = view.params
    created = int(view.created_at.timestamp())
    completed_at = expires_at = None
    if view.finished:
        ended = view.created_at + timedelta(milliseconds=view.execution_ms)
        completed_at = int(ended.timestamp())
        if view.status == Status.COMPLETED:
            expiry = view.outputs_expired_at or ended + timedelta(seconds=retention_seconds)
            expires_at = int(expiry.timestamp())
    error = None
    if view.status not in STATUSES:
        error = {"code": view.status, "message": view.error or f"the job ended {view.status}"}
    return {
        "id": view.id,
        "object": "video",
        "model": view.model,
        "status": STATUSES.get(view.status, "failed"),
        "progress": 100 if view.status == Status.COMPLETED else view.progress,
        "created_at": created,
        "completed_at": completed_at,
        "expires_at": expires_at,
        "prompt": params.get("prompt"),
        "remixed_from_video_id": params.get("remixed_from"),
        "seconds": str(params.get("duration", "")),
        "size": nominal_size(params),
        "error": error,
    }


def nominal_size(params: dict[str, Any]) -> str:
    """The frame size the request asked for: its `size`, else its aspect ratio at its resolution (720p unless
    given). The engine bound to the route decides the exact pixels (README: each family's sizes)."""
    size = params.get("size")
    if isinstance(size, str) and "*" in size:
        return size.replace("*", "x")
    short = NOMINAL_SHORT_SIDE.get(str(params.get("resolution")), DEFAULT_SHORT_SIDE)
    ratio = str(params.get("aspect_ratio") or "16:9")
    across, down = (int(part) for part in ratio.split(":", 1))
    if across >= down:
        return f"{round(short * across / down)}x{short}"
    return f"{short}x{round(short * down / across)}"


def poll_after_ms(view: PredictionView, now: datetime | None = None) -> int:
    """How long the SDK's poller should wait before it asks again: until the job should start while it waits
    (between 0.5 and 5 s), half a second while it runs."""
    if view.status == Status.CREATED and view.estimated_start_at is not None:
        until = (view.estimated_start_at - (now or datetime.now(UTC))).total_seconds() * 1000
        return int(min(max(until, 500), 5000))
    return 1000 if view.status == Status.CREATED else 500


def content_key(view: PredictionView, variant: str) -> str:
    """The storage key of a completed video's MP4 (`video`) or its poster JPEG (`thumbnail`)."""
    if variant not in ("video", "thumbnail", "spritesheet"):
        raise InputError("variant must be video, thumbnail or spritesheet", param="variant")
    if variant == "spritesheet":
        raise InputError("this server makes no spritesheets; ask for video or thumbnail", param="variant")
    if view.status != Status.COMPLETED:
        raise InputError(f"video {view.id} is {STATUSES.get(view.status, 'failed')}: it has no content")
    if view.outputs_expired_at is not None:
        raise NotFound(f"the files of video {view.id} were removed after this server's retention period")
    keys = view.output_keys if variant == "video" else view.poster_keys or []
    if not keys or not view.outputs_are_files:
        raise NotFound(f"video {view.id} has no {variant}")
    return keys[0]
