"""A model route as the API serves it: its id, its parameters (a family's, narrowed or extended), its price."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from reelserve.catalog.params import check_cross_field_rules
from reelserve.errors import InputError

VOICE_MODEL_ID = "kwaivgi/kling_custom_voice"


@dataclass(frozen=True)
class ModelRoute:
    id: str
    title: str
    description: str
    kind: str
    """image-to-video or text-to-video"""
    family: str
    """The schema family (catalog/families.py) the parameters come from."""
    features: frozenset[str]
    price_per_second: Decimal
    params_model: type[BaseModel]
    gated_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Wire names of the family's variant features this route lacks, refused with 400 naming where they are."""
    available_on: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """For each gated feature, the routes of the catalog that have it."""
    aliases: tuple[str, ...] = ()
    """Other names the wire dialects accept for this route (route_tables.py `aliases`)."""

    @property
    def path(self) -> str:
        return f"/api/v3/{self.id}"

    def json_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema(by_alias=True)

    def parse(self, body: Any) -> Any:
        """Validate a request body against this route, raising InputError naming the parameter."""
        if not isinstance(body, dict):
            raise InputError("the request body must be a JSON object")
        for feature, names in self.gated_names.items():
            for name in names:
                if body.get(name) is not None:
                    raise InputError(
                        f"`{name}` is not supported by {self.id}; {self._who_supports(feature)}", param=name
                    )
        try:
            params = self.params_model.model_validate(body)
        except ValidationError as exc:
            raise input_error_from(exc) from None
        check_cross_field_rules(params)
        return params

    def _who_supports(self, feature: str) -> str:
        routes = self.available_on.get(feature, ())
        return "it is available on " + ", ".join(routes) if routes else "no route of this server offers it"


def params_model_name(route_id: str) -> str:
    """A class name for the route's parameters, which the OpenAPI document uses as its schema name."""
    parts = re.split(r"[/\-]+", route_id.replace(".", "_"))
    return "".join(part[:1].upper() + part[1:] for part in parts if part) + "Params"


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
    if isinstance(value, dict | list) and len(value) > 20:
        return f"an {'object' if isinstance(value, dict) else 'array'} of {len(value)} items"
    if isinstance(value, str | bytes) and len(value) > 60:
        value = value[:60]  # the input may be a whole request body of megabytes
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."
