"""Submits for the wire dialects (api/openai, api/gptproto): a route's body they have mapped, or an earlier
prediction made again, through the same service calls as v3's submit (draft, complete, accept), on the threads
api/execution.py chooses. Also the choice of a route by a dialect's model name and the kind of video asked for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from reelserve.api import execution
from reelserve.api.dependencies import public_base_url, runtime_of
from reelserve.catalog.bindings import RouteEngines
from reelserve.catalog.routes import ModelRoute
from reelserve.errors import ReelserveError
from reelserve.observe import job_events, tracing
from reelserve.service.keys import KeyInfo
from reelserve.service.predictions import Draft
from reelserve.service.views import PredictionView

IDEMPOTENCY_HEADER = "idempotency-key"
IMAGE_TO_VIDEO = "image-to-video"
TEXT_TO_VIDEO = "text-to-video"


@dataclass(frozen=True)
class Accepted:
    view: PredictionView
    wait: bool
    """Whether the client asked to wait for the prediction to end (sync mode)."""


async def submit(
    request: Request, key: KeyInfo, route_id: str, body: Any, webhook_url: str | None = None
) -> Accepted:
    """A new prediction of `route_id` from a route body (v3's parameter names), charged and queued; a refusal is
    counted by its reason (observe/job_events.py)."""
    runtime = runtime_of(request)

    async def draft() -> Draft:
        return await execution.read(
            runtime, runtime.predictions.draft, key, route_id, body, webhook_url=webhook_url,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER), base_url=public_base_url(request),
        )

    return await _submitted(request, route_id, draft)


async def submit_again(request: Request, key: KeyInfo, prediction_id: str, changes: dict[str, Any]) -> Accepted:
    """A new prediction from the caller's earlier one: its stored inputs, its parameters with `changes` over them."""
    runtime = runtime_of(request)

    async def draft() -> Draft:
        return await execution.read(
            runtime, runtime.predictions.draft_again, key, prediction_id, changes,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER), base_url=public_base_url(request),
        )

    return await _submitted(request, None, draft)


async def _submitted(request: Request, route_id: str | None, draft: Callable[[], Awaitable[Draft]]) -> Accepted:
    runtime = runtime_of(request)
    with refusals_counted(route_id):
        with tracing.span("validate", route=route_id) as validating:
            drafted = await draft()
            prepared = await execution.complete_submit(request, runtime, drafted)
            tracing.tag(validating, prepared.job.prediction_id)
        with tracing.span("admit", prepared.job.prediction_id, route=drafted.route_id):
            view = await runtime.predictions.accept(prepared)
    return Accepted(view, prepared.wait)


@contextmanager
def refusals_counted(route_id: str | None) -> Iterator[None]:
    """Counts a refusal by its route and reason, where the route is known (a remix's is not before its draft)."""
    try:
        yield
    except ReelserveError as refused:
        if route_id is not None:
            job_events.refused(route_id, refused)
        raise


async def read_prediction(request: Request, key: KeyInfo, prediction_id: str) -> PredictionView:
    runtime = runtime_of(request)
    return await execution.read(runtime, runtime.predictions.get, key, prediction_id)


def route_for(engines: RouteEngines, name: str, kind: str) -> ModelRoute | None:
    """The route `name` names (its id, or an alias from the catalog) for a video of `kind`: the one of that kind;
    for text-to-video, else an image-to-video route whose image is optional (the Kling family's). A route named
    by its id is taken whatever its kind: it refuses what it cannot do, saying why."""
    candidates = engines.routes_named(name)
    if len(candidates) == 1 and candidates[0].id == name:
        return candidates[0]
    for route in candidates:
        if route.kind == kind:
            return route
    if kind == TEXT_TO_VIDEO:
        for route in candidates:
            image = route.params_model.model_fields.get("image")
            if image is not None and not image.is_required():
                return route
    return candidates[0] if len(candidates) == 1 else None


def takes(route: ModelRoute, name: str) -> bool:
    """Whether the route has a parameter of that (v3) name."""
    return name in route.params_model.model_fields
