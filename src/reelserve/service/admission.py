"""Whether a key may use a route. Its cap on jobs in flight is kept on its row in the database, so that it
holds across API processes, and taken where jobs are admitted (`store.intake`)."""

from __future__ import annotations

from reelserve.errors import PermissionDenied
from reelserve.service.keys import KeyInfo


def check_route_permission(key: KeyInfo, model_id: str) -> None:
    allowed = key.limits.models
    if allowed is not None and model_id not in allowed:
        raise PermissionDenied(f"this API key may not use {model_id}; it may use: {', '.join(allowed) or 'nothing'}")
