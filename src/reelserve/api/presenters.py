"""A PredictionView as the seed's `data` object, with absolute URLs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reelserve.jobs.status import Status
from reelserve.service.money import micros_to_usd
from reelserve.service.views import PredictionView
from reelserve.storage.signing import UrlSigner

SYNC_TIMEOUT_MESSAGE = "Sync mode timed out"
SYNC_TIMEOUT_CODE = 5004
"""What WaveSpeed's SDKs read as "the server stopped waiting; poll urls.get"."""


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prediction_data(
    view: PredictionView, base_url: str, signer: UrlSigner, base64_outputs: list[str] | None = None
) -> dict[str, Any]:
    """`base64_outputs`: the outputs as naked base64, for a prediction asked for with enable_base64_output."""
    base = base_url.rstrip("/")
    outputs: list[str] = []
    posters: list[str] = []
    if view.status == Status.COMPLETED and view.outputs_expired_at is None:
        if base64_outputs is not None:
            outputs = base64_outputs
        elif view.outputs_are_files:
            outputs = [signer.url_for(key, base) for key in view.output_keys]
        else:
            outputs = list(view.output_keys)
        posters = [signer.url_for(key, base) for key in view.poster_keys or []]
    data: dict[str, Any] = {
        "id": view.id,
        "model": view.model,
        "outputs": outputs,
        "urls": {"get": f"{base}/api/v3/predictions/{view.id}/result"},
        "status": view.status,
        "error": view.error,
        "executionTime": view.execution_ms,
        "timings": {"inference": view.inference_ms},
        "has_nsfw_contents": view.has_nsfw_contents if outputs else [],
        "created_at": rfc3339(view.created_at),
        "progress": view.progress,
        "input": view.params,
        "price": micros_to_usd(view.price_micros),
        "posters": posters,
    }
    if view.queue_position is not None:
        data["queue_position"] = view.queue_position
        data["estimated_start_at"] = rfc3339(view.estimated_start_at) if view.estimated_start_at else None
    if view.outputs_expired_at is not None:
        data["outputs_expired_at"] = rfc3339(view.outputs_expired_at)
        if view.status == Status.COMPLETED:
            data["error"] = "the outputs were removed after this server's retention period"
    return data


def sync_timeout_data(data: dict[str, Any]) -> dict[str, Any]:
    """The answer of a sync-mode submit whose wait ran out (or was ended by a shutdown): poll urls.get."""
    return {**data, "status": Status.PROCESSING.value, "error": SYNC_TIMEOUT_MESSAGE, "code": SYNC_TIMEOUT_CODE}
