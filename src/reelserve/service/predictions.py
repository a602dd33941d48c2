"""Submitting predictions and what a client does with them afterwards: read, cancel, delete, list.

A submit is two steps: `draft` reads the request and says what checking its inputs will cost (no network, no
pixels decoded), `complete` loads and checks the inputs. The API edge decides where each step runs (the event
loop, the threadpool, or the bounded pool for fetches); `accept` then admits the job.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from reelserve.catalog.bindings import RouteBinding, RouteEngines
from reelserve.catalog.params import ImageToVideoParams, field_or_none, segment_plan
from reelserve.catalog.prices import PriceList
from reelserve.engines.base import EngineCapabilities
from reelserve.errors import InputError, NotFound, echoed
from reelserve.jobs import admission
from reelserve.jobs.lifecycle import Lifecycle
from reelserve.jobs.status import Status
from reelserve.jobs.transitions import stored_files
from reelserve.net.url_check import FetchPolicy, check_url
from reelserve.service.admission import check_route_permission
from reelserve.service.capabilities import check_engine_can_serve, effective_sound, with_speech
from reelserve.service.engine_choice import EngineChooser
from reelserve.service.inputs import LIGHT_IMAGE_BYTES, ImageLoader, ImageSource, LoadedImage
from reelserve.service.jobs import JobIntake, NewJob
from reelserve.service.keys import KeyInfo
from reelserve.service.moderation import ContentPolicy
from reelserve.service.scripts import script_for
from reelserve.service.views import PredictionView, view_of
from reelserve.service.voices import VoiceService
from reelserve.service.waiting import WaitEstimates
from reelserve.speech.script import Script
from reelserve.storage.base import Storage
from reelserve.store import predictions as prediction_store
from reelserve.store.database import Database
from reelserve.worker.requests import generation_request

IMAGE_FIELDS = ("image", "end_image")
DERIVED_PARAMS = frozenset({"segments", "script", "remixed_from"})
"""What `complete` adds to a prediction's stored parameters beyond the request's own (`draft_again` leaves them out:
they are derived again)."""
MAX_IDEMPOTENCY_KEY = 255
WEBHOOK_WITH_BASE64 = (
    "webhook callback does not support base64 output, please use the normal API to use base64 output"
)


@dataclass(frozen=True)
class InputWork:
    """What checking a request's inputs will cost, for the API edge to decide where it runs."""

    network: bool
    """A URL to fetch or a webhook host to resolve."""
    light: bool
    """Small images checked without decoding many pixels: about a millisecond at most."""


@dataclass(frozen=True)
class Draft:
    key: KeyInfo
    route_id: str
    binding: RouteBinding
    params: ImageToVideoParams
    images: dict[str, ImageSource]
    voice_refs: list[str]
    price_micros: int
    webhook_url: str | None
    idempotency: admission.Idempotency | None
    base_url: str | None
    decode_pixels: bool
    script: Script | None
    caps: EngineCapabilities
    """The engine's abilities for this request: with sound where the speech stage speaks its lines."""
    remixed_from: str | None = None
    """The earlier prediction this one was made again from (draft_again)."""

    @property
    def work(self) -> InputWork:
        return InputWork(
            network=self.webhook_url is not None or any(image.url for image in self.images.values()),
            light=not self.decode_pixels and all(image.is_light for image in self.images.values()),
        )


@dataclass(frozen=True)
class PreparedJob:
    key: KeyInfo
    job: NewJob
    wait: bool
    """Whether the client asked to wait for the prediction to end (sync mode)."""


@dataclass(frozen=True)
class HistoryPage:
    page: int
    page_size: int
    total: int
    items: list[PredictionView]
    total_is_at_least: bool = False
    """More match than store.predictions.COUNTED_UP_TO: `total` is that many."""


def new_prediction_id() -> str:
    return secrets.token_hex(16)


class PredictionService:
    def __init__(
        self,
        database: Database,
        storage: Storage,
        intake: JobIntake,
        lifecycle: Lifecycle,
        engines: RouteEngines,
        images: ImageLoader,
        voices: VoiceService,
        prices: PriceList,
        content_policy: ContentPolicy,
        fetch_policy: FetchPolicy,
        waits: WaitEstimates,
        chooser: EngineChooser,
    ) -> None:
        self.database = database
        self.storage = storage
        self.intake = intake
        self.lifecycle = lifecycle
        self.engines = engines
        self.images = images
        self.voices = voices
        self.prices = prices
        self.content_policy = content_policy
        self.fetch_policy = fetch_policy
        self.waits = waits
        self.chooser = chooser

    def draft(
        self, key: KeyInfo, route_id: str, body: Any, *, webhook_url: str | None = None,
        idempotency_key: str | None = None, base_url: str | None = None,
    ) -> Draft:
        """Checks everything about the request but its inputs' contents: route, parameters, policy, voices."""
        return self._draft(
            key, route_id, body, webhook_url=webhook_url, idempotency_key=idempotency_key, base_url=base_url
        )

    def draft_again(
        self, key: KeyInfo, prediction_id: str, changes: dict[str, Any], *, webhook_url: str | None = None,
        idempotency_key: str | None = None, base_url: str | None = None,
    ) -> Draft:
        """A new submit of the caller's earlier prediction: its route, its accepted parameters with `changes` over
        them and its stored input images, checked as any submit is (price, policy, limits); the new prediction's
        `remixed_from` names the earlier one."""
        row = prediction_store.owned_row(self.database, prediction_id, key.id)
        if row is None:
            raise NotFound.no_such("prediction", prediction_id)
        if row.outputs_expired_at is not None:
            raise InputError(
                f"the inputs of prediction {prediction_id} were removed after this server's retention period"
            )
        if self.engines.route(row.model) is None:
            raise InputError(f"prediction {prediction_id} cannot be made again: its route is not served here")
        stored_images = {
            field: row.inputs[field] for field in IMAGE_FIELDS
            if field not in changes and isinstance((row.inputs or {}).get(field), str)
        }
        for field, stored in stored_images.items():
            if not self.storage.exists(stored):
                raise InputError(f"the {field} of prediction {prediction_id} is no longer stored", param=field)
        body = {name: value for name, value in row.params.items() if name not in DERIVED_PARAMS}
        body.update(changes)
        return self._draft(
            key, row.model, body, webhook_url=webhook_url, idempotency_key=idempotency_key, base_url=base_url,
            stored_images=stored_images, remixed_from=prediction_id,
        )

    def _draft(
        self, key: KeyInfo, route_id: str, body: Any, *, webhook_url: str | None, idempotency_key: str | None,
        base_url: str | None, stored_images: dict[str, str] | None = None, remixed_from: str | None = None,
    ) -> Draft:
        route = self.engines.route(route_id)
        if route is None:
            raise NotFound(f"no model route {echoed(route_id)}")
        check_route_permission(key, route_id)
        params = route.parse(body)
        if webhook_url is not None:
            webhook_url = _checked_webhook_syntax(webhook_url, params)
        self.content_policy.check_params(params)
        binding = self.chooser.choose(route_id)
        script = script_for(params, binding.speech_options)
        caps = with_speech(binding.engine.capabilities, speaks=script is not None and script.speaks)
        voice_refs = self.voices.sample_keys(key, field_or_none(params, "voice_list") or [])
        check_engine_can_serve(params, binding.engine_name, caps)
        images = {
            field: self._image_source(field, value, key, stored_images)
            for field in IMAGE_FIELDS
            if (value := field_or_none(params, field)) is not None
        }
        request = body if remixed_from is None else {"remixed_from": remixed_from, **body}
        return Draft(
            key=key, route_id=route_id, binding=binding, params=params, images=images, voice_refs=voice_refs,
            price_micros=self.prices.video_micros(
                route_id, params.duration, with_voices=script is not None, label=binding.label
            ),
            webhook_url=webhook_url, idempotency=_idempotency(idempotency_key, route_id, request, webhook_url),
            base_url=base_url, decode_pixels=self.content_policy.inspects_input_images, script=script, caps=caps,
            remixed_from=remixed_from,
        )

    def _image_source(self, field: str, value: str, key: KeyInfo, stored: dict[str, str] | None) -> ImageSource:
        """What the request sent, or, for a prediction made again with that image unchanged, its stored input
        (its size unread, so that it is checked off the event loop)."""
        kept = (stored or {}).get(field)
        if kept is not None:
            return ImageSource(field, upload_key=kept, size=LIGHT_IMAGE_BYTES + 1)
        return self.images.locate(value, field, key)

    def complete(self, draft: Draft) -> PreparedJob:
        """Loads and checks the inputs (fetching, decoding); the job to `accept`. Where that is more than light
        work, the cheap refusals (balance, jobs in flight) come first."""
        if not draft.work.light:
            self.intake.check_can_start(draft.key, draft.price_micros)
        if draft.webhook_url is not None:
            check_url(draft.webhook_url, self.fetch_policy, param="webhook")
        loaded: dict[str, LoadedImage] = {}
        for field, source in draft.images.items():
            loaded[field] = self.images.load(source, pixels=draft.decode_pixels)
            if draft.decode_pixels:
                decoded = loaded[field].image
                assert decoded is not None
                self.content_policy.check_input_image(decoded, param=field)
        params, binding = draft.params, draft.binding
        stored = params.model_dump(mode="json", exclude={"enable_sync_mode"})
        for field, image in loaded.items():
            stored[field] = _echo_of_image(stored[field], image.facts.size)
        stored["aspect_ratio"] = params.aspect_ratio or "16:9"
        stored["sound"] = effective_sound(params, draft.caps)
        stored["segments"] = segment_plan(params)
        if draft.script is not None:
            stored["script"] = draft.script.as_json()
        if draft.remixed_from is not None:
            stored["remixed_from"] = draft.remixed_from
        binding.engine.check(
            generation_request(
                stored,
                loaded["image"].facts if "image" in loaded else None,
                loaded["end_image"].facts if "end_image" in loaded else None,
            )
        )
        job = NewJob(
            prediction_id=new_prediction_id(),
            model=draft.route_id,
            params=stored,
            input_files={field: image.data for field, image in loaded.items() if image.data is not None},
            input_sources={field: image.storage_key for field, image in loaded.items() if image.storage_key},
            price_micros=draft.price_micros,
            input_refs={"voices": draft.voice_refs} if draft.voice_refs else None,
            queue=binding.queue,
            binding=binding.label,
            max_run_seconds=binding.max_run_seconds,
            webhook_url=draft.webhook_url,
            base_url=draft.base_url,
            idempotency=draft.idempotency,
        )
        return PreparedJob(draft.key, job, params.enable_sync_mode)

    async def accept(self, prepared: PreparedJob) -> PredictionView:
        """Keeps the job, charged and queued, committed with the others accepted in this turn of the loop."""
        return await self.intake.accept_soon(prepared.key, prepared.job)

    def get(self, key: KeyInfo, prediction_id: str) -> PredictionView:
        row = prediction_store.owned_row(self.database, prediction_id, key.id)
        if row is None:
            raise NotFound.no_such("prediction", prediction_id)
        if row.status == Status.CREATED:
            return self._waiting(row, row.ahead + 1)
        return view_of(row)

    def any(self, prediction_id: str) -> PredictionView:
        """Any key's prediction, deleted ones too: for admins."""
        rows = prediction_store.rows_by_id(self.database, [prediction_id])
        if not rows:
            raise NotFound.no_such("prediction", prediction_id)
        return view_of(rows[0])

    def cancel(self, key: KeyInfo, prediction_id: str) -> PredictionView:
        return view_of(self.lifecycle.cancel(prediction_id, key.id))

    def delete(self, key: KeyInfo, prediction_ids: list[str]) -> list[str]:
        """Deletes those of the ids the caller owns (cancelling them first); returns the ids deleted."""
        rows = self.lifecycle.delete(prediction_ids, key.id)
        for row in rows:
            for stored in stored_files(row):
                self.storage.delete(stored)
        return [row.id for row in rows]

    def history(self, key: KeyInfo, where: prediction_store.HistoryFilter, page: int, page_size: int) -> HistoryPage:
        rows, total, more = prediction_store.history_page(self.database, where, (page - 1) * page_size, page_size)
        waiting = [row.id for row in rows if row.status == Status.CREATED]
        places = prediction_store.queue_positions(self.database, waiting) if waiting else {}
        items = [self._waiting(row, places[row.id]) if row.id in places else view_of(row) for row in rows]
        return HistoryPage(page=page, page_size=page_size, total=total, items=items, total_is_at_least=more)

    def _waiting(self, row: Any, position: int) -> PredictionView:
        return self.waits.view(row, position)

    def output_bytes(self, view: PredictionView) -> list[bytes]:
        """The stored output files themselves (for base64 outputs)."""
        return [self.storage.read_bytes(key) for key in view.output_keys] if view.outputs_are_files else []


def _checked_webhook_syntax(url: str, params: ImageToVideoParams) -> str:
    if getattr(params, "enable_base64_output", False):
        raise InputError(WEBHOOK_WITH_BASE64, param="enable_base64_output")
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > 2048:
        raise InputError("webhook must be an http(s) URL of at most 2048 characters", param="webhook")
    return url


def _idempotency(key: str | None, route_id: str, body: Any, webhook_url: str | None) -> admission.Idempotency | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InputError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters", param="Idempotency-Key"
        )
    request = json.dumps([route_id, body, webhook_url], sort_keys=True, separators=(",", ":"))
    return admission.Idempotency(key, hashlib.sha256(request.encode()).hexdigest())


def _echo_of_image(value: str, size: int) -> str:
    """What the prediction's `input` shows of an image: its URL, or a short note instead of inline data."""
    if value.strip().lower().startswith(("http://", "https://")):
        return value
    return f"<inline image, {size} bytes>"
