"""What the service hands the API about a prediction; the API turns it into the wire envelope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from reelserve.catalog.routes import VOICE_MODEL_ID
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

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled", "timeout")


def view_of(prediction: Prediction | SimpleNamespace | Any) -> PredictionView:
    """From anything that carries the prediction's columns as attributes: the ORM object, a row."""
    params = {key: value for key, value in prediction.params.items() if key != "segments"}
    return PredictionView(
        id=prediction.id,
        model=prediction.model,
        status=prediction.status,
        output_keys=list(prediction.outputs or []),
        error=prediction.error,
        progress=prediction.progress,
        execution_ms=prediction.execution_ms or 0,
        inference_ms=prediction.inference_ms or 0,
        has_nsfw_contents=list(prediction.has_nsfw_contents or []),
        created_at=prediction.created_at,
        params=params,
        outputs_are_files=prediction.model != VOICE_MODEL_ID,
    )
