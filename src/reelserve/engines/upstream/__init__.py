"""The `upstream` engine: routes served by a hosted provider (v3, Kling, fal, Replicate) behind reelserve's
own keys, balances, limits, content policy and storage.

`create_engine(options, context)` is what the route configuration calls for `engine = "upstream"`; it
validates the options (ValueError naming the bad one) and reads no credential until the engine starts.
"""

from __future__ import annotations

from typing import Any

from reelserve.engines.registry import EngineContext
from reelserve.engines.upstream.engine import UpstreamEngine
from reelserve.engines.upstream.options import UpstreamOptions, parse_options


def create_engine(options: dict[str, Any], context: EngineContext) -> UpstreamEngine:
    parsed = parse_options(options)
    try:
        return UpstreamEngine(parsed, context)
    except ValueError as exc:
        raise ValueError(f"invalid upstream engine options: {exc}") from None


__all__ = ["UpstreamEngine", "UpstreamOptions", "create_engine"]
