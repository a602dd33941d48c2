"""The `diffusers` engine: open-weight video models (Wan 2.x, LTX-Video, LTX-2) through Hugging Face diffusers.

`create_engine(options, base_dir=...)` is what the route configuration calls for `engine = "diffusers"`.
Importing this package and creating engines is cheap (no torch): models load in a worker process
when the engine starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .engine import DiffusersEngine
from .families import FAMILIES, FamilySpec
from .mapping import RouteSettings, VideoPlan, plan_video
from .options import BindingOptions, parse_binding_options


def create_engine(options: dict[str, Any], *, base_dir: Path) -> DiffusersEngine:
    """An engine for one route binding (the route's TOML table without its `engine` key).

    Raises ValueError naming the bad option. Cheap: nothing is loaded until `start()`.
    """
    return DiffusersEngine(parse_binding_options(options, base_dir))


__all__ = [
    "FAMILIES",
    "BindingOptions",
    "DiffusersEngine",
    "FamilySpec",
    "RouteSettings",
    "VideoPlan",
    "create_engine",
    "parse_binding_options",
    "plan_video",
]
