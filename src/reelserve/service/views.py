"""What the service hands the API about a prediction; the API turns it into the wire envelope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from reelserve.jobs.status import Status
from reelserve.store.tables import Prediction


@dataclass(frozen=True)
class PredictionView:
    id: str
    model: str
    status: str
    output_keys: list[str]
    error: str | None
    progress: int
    execution_ms: int
    inference_ms: int
    has_nsfw_contents: list[bool]
    created_at: datetime
    params: dict[str, Any]
    outputs_are_files: bool = True
    price_micros: int = 0
    poster_keys: list[str] | None = None
    outputs_expired_at: datetime | None = None
    queue_position: int | None = None
    estimated_start_at: datetime | None = None
    key_id: str | None = None
    engine_details: dict[str, Any] | None = None
    """Which engine served the job and what it reported: for admins only."""

    @property
    def finished(self) -> bool:
        return Status(self.status).ended

    @property
    def wants_base64_outputs(self) -> bool:
        return bool(self.params.get("enable_base64_output"))


def view_of(prediction: Prediction | SimpleNamespace | Any, **extra: Any) -> PredictionView:
    """From anything that carries the prediction's columns as attributes: the ORM object, a row."""
    params = {key: value for key, value in prediction.params.items() if key != "segments"}
    outputs = list(prediction.outputs or [])
    return PredictionView(
        id=prediction.id,
        model=prediction.model,
        status=prediction.status,
        output_keys=outputs,
        error=prediction.error,
        progress=prediction.progress,
        execution_ms=prediction.execution_ms or 0,
        inference_ms=prediction.inference_ms or 0,
        has_nsfw_contents=list(prediction.has_nsfw_contents or []),
        created_at=prediction.created_at,
        params=params,
        outputs_are_files=all(output.startswith("outputs/") for output in outputs),
        price_micros=prediction.price_micros or 0,
        poster_keys=list(getattr(prediction, "posters", None) or []),
        outputs_expired_at=getattr(prediction, "outputs_expired_at", None),
        key_id=getattr(prediction, "key_id", None),
        engine_details=getattr(prediction, "engine_details", None),
        **extra,
    )
