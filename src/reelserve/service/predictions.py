"""Submitting predictions and reading them back: validate → check inputs → persist → enqueue."""

from __future__ import annotations

import secrets
from typing import Any

from reelserve.catalog.bindings import RouteEngines
from reelserve.catalog.params import segment_plan
from reelserve.catalog.prices import PriceList
from reelserve.catalog.routes import route_for
from reelserve.errors import NotFound
from reelserve.queue.local import DatabaseQueue
from reelserve.service.admission import admit_in_flight, check_route_permission
from reelserve.service.billing import reserve
from reelserve.service.capabilities import check_engine_can_serve, effective_sound
from reelserve.service.inputs import ImageLoader, LoadedImage
from reelserve.service.keys import KeyInfo
from reelserve.service.views import PredictionView, view_of
from reelserve.storage.local import LocalStorage
from reelserve.store import predictions as prediction_store
from reelserve.store.database import Database
from reelserve.worker.requests import generation_request

IMAGE_FIELDS = ("image", "end_image")


def new_prediction_id() -> str:
    return secrets.token_hex(16)


class PredictionService:
    def __init__(
        self,
        database: Database,
        storage: LocalStorage,
        queue: DatabaseQueue,
        engines: RouteEngines,
        images: ImageLoader,
        prices: PriceList,
        default_max_concurrency: int,
    ) -> None:
        self.database = database
        self.storage = storage
        self.queue = queue
        self.engines = engines
        self.images = images
        self.prices = prices
        self.default_max_concurrency = default_max_concurrency

    def submit(self, key: KeyInfo, route_id: str, body: Any) -> tuple[PredictionView, bool]:
        """Returns the new prediction and whether the client asked to wait for it (sync mode)."""
        route = route_for(route_id)
        if route is None:
            raise NotFound(f"no model route {route_id}")
        check_route_permission(key, route_id)
        params = route.parse(body)
        binding = self.engines.binding(route_id)
        caps = binding.engine.capabilities
        check_engine_can_serve(params, binding.engine_name, caps)

        loaded: dict[str, LoadedImage] = {}
        for field in IMAGE_FIELDS:
            value = getattr(params, field, None)
            if value is not None:
                loaded[field] = self.images.load(value, param=field, key=key)

        stored = params.model_dump(mode="json", exclude={"enable_sync_mode"})
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

        prediction_id = new_prediction_id()
        input_keys: dict[str, str] = {}
        for field, image in loaded.items():
            input_keys[field] = f"inputs/{prediction_id}/{field}"
            self.storage.put_bytes(input_keys[field], image.data)
        price = self.prices.video_micros(route_id, params.duration)
        try:
            with self.database.session() as session:
                admit_in_flight(session, key, self.default_max_concurrency)
                prediction = prediction_store.new_prediction(
                    id=prediction_id, key_id=key.id, account_id=key.account_id, price_micros=price,
                    model=route_id, params=stored, inputs=input_keys,
                )
                prediction_store.add(session, prediction)
                reserve(session, key, price, prediction_id, note=route_id)
                view = view_of(prediction)
        except BaseException:
            for stored_key in input_keys.values():
                self.storage.delete(stored_key)
            raise
        self.queue.enqueue(prediction_id)
        return view, params.enable_sync_mode

    def get(self, key: KeyInfo, prediction_id: str) -> PredictionView:
        with self.database.session() as session:
            prediction = prediction_store.get_owned(session, prediction_id, key.id)
            if prediction is None:
                raise NotFound(f"no prediction with id {prediction_id}")
            return view_of(prediction)
