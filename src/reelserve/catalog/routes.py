"""The model routes reelserve serves: their parameters, abilities they ask of an engine, and prices."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError, create_model

from reelserve.catalog.params import (
    FEATURE_FIELD_NAMES,
    FEATURE_MIXINS,
    ImageToVideoParams,
    check_cross_field_rules,
)
from reelserve.errors import InputError

VOICE_MODEL_ID = "kwaivgi/kling_custom_voice"


@dataclass(frozen=True)
class ModelRoute:
    id: str
    title: str
    description: str
    features: frozenset[str]
    price_per_second: Decimal
    params_model: type[ImageToVideoParams]

    @property
    def path(self) -> str:
        return f"/api/v3/{self.id}"

    def json_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema(by_alias=False)

    def parse(self, body: Any) -> ImageToVideoParams:
        """Validate a request body against this route, raising InputError naming the parameter."""
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object")
        for feature, names in FEATURE_FIELD_NAMES.items():
            if feature in self.features:
                continue
            for name in names:
                if body.get(name) is not None:
                    raise InputError(
                        f"`{name}` is not supported by {self.id}; {_who_supports(feature)}",
                        param=name,
                    )
        try:
            params = self.params_model.model_validate(body)
        except ValidationError as exc:
            raise input_error_from(exc) from None
        check_cross_field_rules(params)
        return params


def input_error_from(exc: ValidationError) -> InputError:
    return input_error_from_errors(list(exc.errors(include_url=False)))


def input_error_from_errors(errors: list[Any]) -> InputError:
    first = errors[0]
    param = _param_path(tuple(part for part in first["loc"] if part not in ("body", "query", "path")))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "is required"
    elif first["type"] == "literal_error":
        message = f"must be one of {first.get('ctx', {}).get('expected')}"
    given = first.get("input")
    shown = "" if first["type"] == "missing" else f" (got {_short(given)})"
    return InputError(f"{param}: {message}{shown}" if param else f"{message}{shown}", param=param or None)


def _param_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _who_supports(feature: str) -> str:
    routes = [route.id for route in ROUTES.values() if feature in route.features]
    return "it is available on " + ", ".join(routes)


def _route(
    slug: str, title: str, description: str, features: set[str], price_per_second: str
) -> ModelRoute:
    route_id = f"kwaivgi/{slug}/image-to-video"
    mixins = tuple(FEATURE_MIXINS[name] for name in sorted(features))
    model_name = "".join(part.capitalize() for part in slug.replace(".", "_").split("-")) + "Params"
    params_model = create_model(model_name, __base__=(ImageToVideoParams, *mixins))
    return ModelRoute(
        id=route_id,
        title=title,
        description=description,
        features=frozenset(features),
        price_per_second=Decimal(price_per_second),
        params_model=params_model,
    )


ROUTES: dict[str, ModelRoute] = {
    route.id: route
    for route in (
        _route("kling-v2.5-turbo-std", "Kling V2.5 Turbo Std, image to video",
               "Quick image-to-video.", set(), "0.042"),
        _route("kling-v2.5-turbo-pro", "Kling V2.5 Turbo Pro, image to video",
               "Adds an end frame.", {"end_image"}, "0.070"),
        _route("kling-v2.6-std", "Kling V2.6 Std, image to video",
               "Adds custom voices.", {"voice_list"}, "0.056"),
        _route("kling-v2.6-pro", "Kling V2.6 Pro, image to video",
               "Custom voices and an end frame.", {"voice_list", "end_image"}, "0.098"),
        _route("kling-v3.0-std", "Kling V3.0 Std, image to video",
               "Multi-scene prompts and custom voices.", {"multi_prompt", "voice_list"}, "0.084"),
        _route("kling-v3.0-pro", "Kling V3.0 Pro, image to video",
               "Multi-scene prompts, custom voices and an end frame.",
               {"multi_prompt", "voice_list", "end_image"}, "0.112"),
    )
}


def route_for(route_id: str) -> ModelRoute | None:
    return ROUTES.get(route_id)
