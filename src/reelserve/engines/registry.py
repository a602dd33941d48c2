"""Building an engine from its name and the options of a route binding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reelserve.engines.base import Engine
from reelserve.net.fetch import FetchPolicy

ENGINE_NAMES = ("motion", "diffusers", "upstream")


@dataclass(frozen=True)
class EngineContext:
    """What a binding's engine is given besides its options."""

    base_dir: Path
    """Relative paths in the options are read from here (the folder of reelserve.toml)."""
    fetch_policy: FetchPolicy = field(default_factory=FetchPolicy)
    """Where a hosted provider's output URLs may be fetched from (the server's own SSRF rules)."""
    param_wire_names: Mapping[str, str] = field(default_factory=dict)
    """The route's parameters whose wire name differs from their field name (end_image -> last_image)."""
    route_params: frozenset[str] | None = None
    """The route's own parameters (field names): what a hosted provider is sent; None sends every one."""
    environ: Mapping[str, str] | None = None
    """Where credentials named by `api_key_env` are read; the process environment when None."""


def build_engine(name: str, options: dict[str, Any], context: EngineContext) -> Engine:
    if name == "motion":
        from reelserve.engines.motion import MotionEngine

        if options:
            raise ValueError(f"the motion engine takes no options (got {', '.join(sorted(options))})")
        return MotionEngine()
    if name == "diffusers":
        try:
            from reelserve.engines.diffusers import create_engine
        except ImportError as exc:
            raise ValueError(
                f"the diffusers engine needs the `diffusion` extra: pip install 'reelserve[diffusion]' ({exc})"
            ) from exc
        return create_engine(options, base_dir=context.base_dir)
    if name == "upstream":
        from reelserve.engines.upstream import create_engine as create_upstream_engine

        return create_upstream_engine(options, context)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
