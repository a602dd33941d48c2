"""Building an engine from its name and the options of a route binding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reelserve.engines.base import Engine

ENGINE_NAMES = ("motion", "diffusers")


def build_engine(name: str, options: dict[str, Any], base_dir: Path) -> Engine:
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
        return create_engine(options, base_dir=base_dir)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
