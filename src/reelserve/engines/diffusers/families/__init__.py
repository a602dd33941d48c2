"""The model families the diffusers engine serves, by the name a route binding uses."""

from __future__ import annotations

from . import ltx2, ltx_video, wan21_i2v, wan22_i2v_a14b, wan22_ti2v_5b
from .spec import FamilySpec

FAMILIES: dict[str, FamilySpec] = {
    module.SPEC.name: module.SPEC for module in (wan21_i2v, wan22_ti2v_5b, wan22_i2v_a14b, ltx_video, ltx2)
}


def get_family(name: str) -> FamilySpec:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown diffusers family {name!r}; known families: {', '.join(FAMILIES)}") from None


__all__ = ["FAMILIES", "FamilySpec", "get_family"]
