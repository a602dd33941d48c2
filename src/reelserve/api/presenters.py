"""A PredictionView as the seed's `data` object, with absolute URLs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reelserve.service.views import PredictionView
from reelserve.storage.signing import UrlSigner


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prediction_data(
    view: PredictionView, base_url: str, signer: UrlSigner, error_override: str | None = None,
    status_override: str | None = None,
) -> dict[str, Any]:
    base = base_url.rstrip("/")
    outputs: list[str] = []
    if view.status == "completed":
        outputs = [base + signer.signed_path(key) for key in view.output_keys] if view.outputs_are_files else list(
            view.output_keys
        )
    return {
        "id": view.id,
        "model": view.model,
        "outputs": outputs,
        "urls": {"get": f"{base}/api/v3/predictions/{view.id}/result"},
        "status": status_override or view.status,
        "error": error_override or view.error,
        "executionTime": view.execution_ms,
        "timings": {"inference": view.inference_ms},
        "has_nsfw_contents": view.has_nsfw_contents if outputs else [],
        "created_at": rfc3339(view.created_at),
        "progress": view.progress,
        "input": view.params,
    }
