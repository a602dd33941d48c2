"""Parameter families: the built-in schemas a route names with `schema = "..."`.

- `kling-i2v`: the seed's Kling image-to-video parameters; `end_image`, `voice_list` and `multi_prompt`
  are variant gates (a route without the feature refuses the parameter with 400).
- `wan-i2v`: open image-to-video models (Wan 2.x, LTX-Video, LTX-2): `image` required, `duration`,
  `seed`, and as features `negative_prompt`, `end_image` (wire name `last_image`), `size`, `resolution`.
- `t2v`: open text-to-video models: the same without `image`, plus the `aspect_ratio` feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, create_model

from reelserve.catalog.open_params import (
    DERIVED_ATTRIBUTES,
    OPEN_FEATURES,
    ImageToVideoBase,
    TextToVideoBase,
)
from reelserve.catalog.params import FEATURE_FIELD_NAMES, FEATURE_MIXINS, ImageToVideoParams

IMAGE_TO_VIDEO = "image-to-video"
TEXT_TO_VIDEO = "text-to-video"


@dataclass(frozen=True)
class SchemaFamily:
    name: str
    kind: str
    base: type[BaseModel]
    features: dict[str, type[BaseModel]]
    gated_names: dict[str, tuple[str, ...]]
    """Wire names refused with 400 on a route that lacks the feature (the seed's variants)."""

    def params_model(self, model_name: str, features: frozenset[str]) -> type[BaseModel]:
        unknown = sorted(features - set(self.features))
        if unknown:
            raise ValueError(
                f"unknown feature(s) {', '.join(unknown)} for schema {self.name!r}; "
                f"choose from {', '.join(sorted(self.features))}"
            )
        mixins = tuple(self.features[name] for name in sorted(features))
        model: type[BaseModel] = create_model(model_name, __base__=(self.base, *mixins))
        return with_derived_attributes(model)


def with_derived_attributes(model: type[BaseModel]) -> type[BaseModel]:
    """Adds the attributes every request is read for (image, aspect_ratio, sound, guidance_scale) where the
    model has no such field, so that the rules read every family alike."""
    missing = {name: value for name, value in DERIVED_ATTRIBUTES.items() if name not in model.model_fields}
    if not missing:
        return model
    derived: type[Any] = type(f"{model.__name__}Derived", (), missing)
    return create_model(model.__name__, __base__=(model, derived))


FAMILIES: dict[str, SchemaFamily] = {
    family.name: family
    for family in (
        SchemaFamily("kling-i2v", IMAGE_TO_VIDEO, ImageToVideoParams, dict(FEATURE_MIXINS), dict(FEATURE_FIELD_NAMES)),
        SchemaFamily("wan-i2v", IMAGE_TO_VIDEO, ImageToVideoBase,
                     {name: OPEN_FEATURES[name] for name in ("negative_prompt", "end_image", "size", "resolution")},
                     {}),
        SchemaFamily("t2v", TEXT_TO_VIDEO, TextToVideoBase,
                     {name: OPEN_FEATURES[name] for name in ("negative_prompt", "size", "resolution", "aspect_ratio")},
                     {}),
    )
}


def family_named(name: str) -> SchemaFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown schema {name!r}; choose one of {', '.join(FAMILIES)}") from None
