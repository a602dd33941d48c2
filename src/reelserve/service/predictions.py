"""Submitting predictions and reading them back: validate → check inputs → persist → enqueue."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from reelserve.catalog.bindings import RouteEngines
from reelserve.catalog.params import segment_plan
from reelserve.catalog.prices import PriceList
from reelserve.catalog.routes import route_for
from reelserve.errors import NotFound, WouldBlock
from reelserve.service.admission import check_route_permission
from reelserve.service.capabilities import check_engine_can_serve, effective_sound
from reelserve.service.inputs import ImageLoader, LoadedImage
from reelserve.service.jobs import JobIntake, NewJob
from reelserve.service.keys import KeyInfo
from reelserve.service.moderation import ContentPolicy
from reelserve.service.views import PredictionView, view_of
from reelserve.service.voices import VoiceService
from reelserve.store import predictions as prediction_store
from reelserve.store.database import Database
from reelserve.worker.requests import generation_request

IMAGE_FIELDS = ("image", "end_image")


@dataclass(frozen=True)
class PreparedJob:
    key: KeyInfo
    job: NewJob
    wait: bool
    """Whether the client asked to wait for the prediction to end (sync mode)."""


def new_prediction_id() -> str:
    return secrets.token_hex(16)


class PredictionService:
    def __init__(
        self,
        database: Database,
        intake: JobIntake,
        engines: RouteEngines,
        images: ImageLoader,
        voices: VoiceService,
        prices: PriceList,
        content_policy: ContentPolicy,
    ) -> None:
        self.database = database
        self.intake = intake
        self.engines = engines
        self.images = images
        self.voices = voices
        self.prices = prices
        self.content_policy = content_policy

    def prepare(self, key: KeyInfo, route_id: str, body: Any, may_wait: bool = True) -> PreparedJob:
        """Checks the request and its inputs; the job to `accept`, which keeps it.

        With `may_wait=False` it raises WouldBlock where the checks would wait: for a database read on a
        server, a fetch, or a large image (see `ImageLoader.load`).
        """
        if not may_wait and not self.database.reads_are_instant:
            raise WouldBlock("this database's reads wait on the network")
        route = route_for(route_id)
        if route is None:
            raise NotFound(f"no model route {route_id}")
        check_route_permission(key, route_id)
        params = route.parse(body)
        self.content_policy.check_params(params)
        binding = self.engines.binding(route_id)
        caps = binding.engine.capabilities
        voice_refs = self.voices.sample_keys(key, getattr(params, "voice_list", None) or [])
        check_engine_can_serve(params, binding.engine_name, caps)

        loaded: dict[str, LoadedImage] = {}
        for field in IMAGE_FIELDS:
            value = getattr(params, field, None)
            if value is not None:
                loaded[field] = self.images.load(
                    value, param=field, key=key, pixels=self.content_policy.inspects_input_images, may_wait=may_wait
                )
                self.content_policy.check_input_image(loaded[field].image, param=field)

        stored = params.model_dump(mode="json", exclude={"enable_sync_mode"})
        for field, image in loaded.items():
            stored[field] = _echo_of_image(stored[field], len(image.data))
        stored["aspect_ratio"] = params.aspect_ratio or "16:9"
        stored["sound"] = effective_sound(params, caps)
        stored["segments"] = segment_plan(params)
        binding.engine.check(
            generation_request(
                stored,
                loaded["image"].image if "image" in loaded else None,
                loaded["end_image"].image if "end_image" in loaded else None,
            )
        )

        job = NewJob(
            prediction_id=new_prediction_id(),
            model=route_id,
            params=stored,
            input_files={field: image.data for field, image in loaded.items()},
            input_sources={field: image.storage_key for field, image in loaded.items() if image.storage_key},
            price_micros=self.prices.video_micros(route_id, params.duration),
            input_refs={"voices": voice_refs} if voice_refs else None,
        )
        return PreparedJob(key, job, params.enable_sync_mode)

    async def accept(self, prepared: PreparedJob) -> PredictionView:
        """Keeps the job, charged and queued, committed with the others accepted in this turn of the loop."""
        return await self.intake.accept_soon(prepared.key, prepared.job)

    @property
    def reads_are_instant(self) -> bool:
        """Whether `get` is quick enough to call on the event loop."""
        return self.database.reads_are_instant

    def get(self, key: KeyInfo, prediction_id: str) -> PredictionView:
        row = prediction_store.owned_row(self.database, prediction_id, key.id)
        if row is None:
            raise NotFound(f"no prediction with id {prediction_id}")
        return view_of(row)


def _echo_of_image(value: str, size: int) -> str:
    """What the prediction's `input` shows of an image: its URL, or a short note instead of inline data."""
    if value.strip().lower().startswith(("http://", "https://")):
        return value
    return f"<inline image, {size} bytes>"
